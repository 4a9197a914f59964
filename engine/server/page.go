package server

import (
	"fmt"
	"net/http"
	"strconv"
)

// maxSearchSize bounds a search page's size: Conductor refuses a larger
// one (workflow.max.search.size, 5000 by default) with 400 "Cannot return
// more than 5000 workflows. Please use pagination.".
const maxSearchSize = 5000

// pageQuery reads a page's start and size from r's query parameters
// startName and sizeName: non-negative integers, size def when absent or
// 0 and, when limit > 0, at most limit. A bad value is an error naming the
// parameter (the caller answers 400 with it).
func pageQuery(r *http.Request, startName, sizeName string, def, limit int, what string) (start, size int, err error) {
	q := r.URL.Query()
	read := func(name string) (int, error) {
		v := q.Get(name)
		if v == "" {
			return 0, nil
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("%s must be a non-negative integer", name)
		}
		return n, nil
	}
	if start, err = read(startName); err != nil {
		return 0, 0, err
	}
	if size, err = read(sizeName); err != nil {
		return 0, 0, err
	}
	if size == 0 {
		size = def
	}
	if limit > 0 && size > limit {
		return 0, 0, fmt.Errorf("Cannot return more than %d %s. Please use pagination.", limit, what)
	}
	return start, size, nil
}

// pageBounds is the page [from, to) of size from start within n items;
// it never overflows, whatever start and size (non-negative) are.
func pageBounds(start, size, n int) (from, to int) {
	from = min(start, n)
	return from, from + min(size, n-from)
}
