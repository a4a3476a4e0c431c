package reestr

import (
	"bufio"
	"net"
	"strings"
	"time"
)

// agentConn hands batches to the local agent (`reestr agent`) over its Unix
// socket: the batch as one line, answered one line per event, "ok" once the
// event is on the agent's disk. The answers become the collector's kind of
// answer, so delivery treats both alike. Only the sender's goroutine uses
// it.
type agentConn struct {
	path string
	conn net.Conn
	r    *bufio.Reader
}

func (a *agentConn) post(body []byte, events int, timeout time.Duration, ans *answer) (*answer, error) {
	if a.conn == nil {
		c, err := net.DialTimeout("unix", a.path, timeout)
		if err != nil {
			return nil, &attemptError{msg: "agent: " + err.Error(), retry: true}
		}
		a.conn, a.r = c, bufio.NewReader(c)
	}
	fail := func(err error) (*answer, error) {
		a.conn.Close()
		a.conn = nil
		return nil, &attemptError{msg: "agent: " + err.Error(), retry: true}
	}
	a.conn.SetDeadline(time.Now().Add(timeout))
	if _, err := a.conn.Write(append(body, '\n')); err != nil {
		return fail(err)
	}
	ans.Results = ans.Results[:0]
	spoolFull := ""
	for i := 0; i < events; i++ {
		line, err := a.r.ReadString('\n')
		if err != nil {
			return fail(err)
		}
		line = strings.TrimSuffix(line, "\n")
		switch {
		case line == "ok":
			ans.Results = append(ans.Results, result{Status: "accepted"})
		case strings.HasPrefix(line, "error spool"):
			spoolFull = line[len("error "):]
			ans.Results = append(ans.Results, result{})
		default:
			ans.Results = append(ans.Results, result{Status: "rejected", Error: "agent: " + strings.TrimPrefix(line, "error ")})
		}
	}
	if spoolFull != "" {
		// the agent did not take them: try again later, as after a 503
		return nil, &attemptError{msg: "agent: " + spoolFull, retry: true}
	}
	return ans, nil
}
