// Package redisurl parses Redis URLs for wfrun's stores with errors that
// are safe to print: net/url's and go-redis's parse errors quote the URL,
// or a piece of it, and a Redis URL may hold a password.
package redisurl
