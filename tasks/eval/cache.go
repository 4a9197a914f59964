package eval

import "sync"

// Cache compiles each (evaluator type, expression) pair once and hands out
// the shared, immutable Program afterwards. It is safe for concurrent use.
// Failed compilations are not cached: they are rare, cheap, and a cached
// error would only hide a fixed definition.
type Cache struct {
	opts []Option
	max  int

	mu         sync.Mutex
	evaluators map[string]Evaluator
	programs   map[cacheKey]Program
}

type cacheKey struct{ typ, expr string }

// DefaultCacheSize is the number of programs a Cache keeps before it starts
// over; a workflow rarely has more than a few dozen expressions.
const DefaultCacheSize = 4096

// NewCache returns an empty cache whose evaluators use opts.
func NewCache(opts ...Option) *Cache {
	return &Cache{
		opts:       opts,
		max:        DefaultCacheSize,
		evaluators: map[string]Evaluator{},
		programs:   map[cacheKey]Program{},
	}
}

// Compile returns the program for expression under evaluatorType,
// compiling it on first use.
func (c *Cache) Compile(evaluatorType, expression string) (Program, error) {
	key := cacheKey{evaluatorType, expression}
	c.mu.Lock()
	if p, ok := c.programs[key]; ok {
		c.mu.Unlock()
		return p, nil
	}
	ev, ok := c.evaluators[evaluatorType]
	c.mu.Unlock()
	if !ok {
		var err error
		if ev, err = New(evaluatorType, c.opts...); err != nil {
			return nil, err
		}
	}
	// Compile outside the lock: a slow compile must not stall every other
	// lookup. Two goroutines may compile the same expression at once; both
	// results are equivalent and the first stored wins.
	p, err := ev.Compile(expression)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.evaluators[evaluatorType] = ev
	if prev, ok := c.programs[key]; ok {
		return prev, nil
	}
	if len(c.programs) >= c.max {
		// Starting over is simpler than LRU bookkeeping and only happens
		// for callers that generate expressions without bound.
		clear(c.programs)
	}
	c.programs[key] = p
	return p, nil
}

// Len reports how many programs the cache holds.
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.programs)
}

// shared backs the package-level Compile. It is the package's one piece of
// mutable state, kept on purpose: callers across a process (engine load,
// task validation, INLINE at run time) should share compiled programs
// without threading a cache through every API. It holds only immutable
// programs compiled with default options.
var shared = NewCache()

// Compile compiles expression under evaluatorType with default options,
// through a process-wide cache, so each distinct expression compiles once.
func Compile(evaluatorType, expression string) (Program, error) {
	return shared.Compile(evaluatorType, expression)
}
