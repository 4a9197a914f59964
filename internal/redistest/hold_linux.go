package redistest

import "syscall"

// hold keeps 127.0.0.1:port from other sockets without listening on it: a
// socket bound there without SO_REUSEADDR makes another bind of the port
// fail (a redis-server's too, though it sets SO_REUSEADDR) and an ephemeral
// port pick skip it, while a connection to it is refused as to no server.
// The returned func lets it go. A port that cannot be held is not (nil
// work): the server's identity check at launch still catches a taker.
func hold(port int) func() {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return func() {}
	}
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Port: port, Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		_ = syscall.Close(fd)
		return func() {}
	}
	return func() { _ = syscall.Close(fd) }
}
