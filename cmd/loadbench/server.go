package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// server is a `battlemap serve` subprocess on a loopback port.
type server struct {
	cmd  *exec.Cmd
	port int
	done chan struct{} // closed when the process has exited
	err  error         // why it exited, once done is closed
}

// startServer runs bin serve against dbURL on a free loopback port with
// extra flags, and returns once it answers /readyz with 200. It fails
// if the server exits first or is not ready within two minutes.
func startServer(ctx context.Context, bin, dbURL string, extra []string) (*server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	args := append([]string{"serve",
		"--addr", fmt.Sprintf("127.0.0.1:%d", port),
		"--database-url", dbURL,
		"--log-level", "warn",
	}, extra...)
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	// Should loadbench die without stopping it (even by SIGKILL), the
	// kernel stops the server: no benchmark server outlives its run.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	s := &server{cmd: cmd, port: port, done: make(chan struct{})}
	go func() {
		s.err = cmd.Wait()
		close(s.done)
	}()
	if err := s.waitReady(ctx, 2*time.Minute); err != nil {
		s.stop()
		return nil, err
	}
	return s, nil
}

// freePort asks the kernel for a loopback port nobody holds. Another
// process could take it before the server binds it; the server would
// then fail to start and say so, which is good enough for a benchmark.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func (s *server) waitReady(ctx context.Context, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	url := fmt.Sprintf("http://127.0.0.1:%d/readyz", s.port)
	hc := &http.Client{Transport: &http.Transport{Proxy: nil}, Timeout: time.Second}
	defer hc.CloseIdleConnections()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		if req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil); err == nil {
			if resp, err := hc.Do(req); err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					return nil
				}
			}
		}
		select {
		case <-s.done:
			return fmt.Errorf("server exited before it was ready: %v", s.err)
		case <-ctx.Done():
			return fmt.Errorf("server on port %d not ready: %w", s.port, ctx.Err())
		case <-tick.C:
		}
	}
}

// stop asks the server to shut down and kills it if it has not within
// ten seconds. It returns once the process is gone.
func (s *server) stop() {
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		s.cmd.Process.Kill()
	}
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		s.cmd.Process.Kill()
		<-s.done
	}
}

// pid is the server's process id.
func (s *server) pid() int { return s.cmd.Process.Pid }
