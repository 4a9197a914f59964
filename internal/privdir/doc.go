// Package privdir writes secret material to disk for a local command: a
// private temporary directory (mode 0700), files in it readable by this
// user only (mode 0600 whatever the umask, set before anything is
// written), created through an os.Root so that no path or symbolic link
// leads outside it, and removed as one even when the command made parts
// of it read-only. EXEC's files and a worker command's runtimeMetadata
// file are written through it.
package privdir
