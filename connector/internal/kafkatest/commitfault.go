package kafkatest

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"sync"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// CommitFault garbles the broker's answers to one transaction commit on the connections of
// the clients given its Opt: the commit reaches the broker and is applied, but the client
// reads Code instead of the answer — for that request and for each retry of it (EndTxn with
// the same producer id and epoch). It is the case of a coordinator that wrote the commit and
// then lost its leadership (seen on a single broker fenced by its controller after a stall):
// a client cannot know whether that commit happened.
//
// The commit affected is the first one sent after Arm. It works the same on kfake and on a
// real broker, since it only rewrites bytes on the client's side of the connection.
type CommitFault struct {
	Code int16 // the error code the client reads, e.g. kerr.NotCoordinator.Code

	mu        sync.Mutex
	armed     bool
	target    *[2]int64 // producer id and epoch of the commit whose answers are garbled
	rewritten int
}

// Arm makes the next commit's answers garbled.
func (f *CommitFault) Arm() {
	f.mu.Lock()
	f.armed, f.target = true, nil
	f.mu.Unlock()
}

// Rewritten is the number of answers garbled so far.
func (f *CommitFault) Rewritten() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.rewritten
}

// Opt is the client option (a dialer) through which the fault acts.
func (f *CommitFault) Opt() kgo.Opt {
	return kgo.Dialer(func(ctx context.Context, network, host string) (net.Conn, error) {
		var d net.Dialer
		c, err := d.DialContext(ctx, network, host)
		if err != nil {
			return nil, err
		}
		return &faultConn{Conn: c, f: f, rewrite: map[int32]int16{}}, nil
	})
}

// faultConn watches the requests written to it and rewrites the answers to the EndTxn
// requests its fault chose.
type faultConn struct {
	net.Conn
	f *CommitFault

	wmu     sync.Mutex
	wbuf    []byte
	rmu     sync.Mutex
	rbuf    []byte // read from the connection, not yet a whole frame
	out     []byte // frames ready for the client
	mapMu   sync.Mutex
	rewrite map[int32]int16 // correlation id → EndTxn version, of answers to garble
}

func (c *faultConn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	c.wbuf = append(c.wbuf, p...)
	for len(c.wbuf) >= 4 {
		n := int(binary.BigEndian.Uint32(c.wbuf))
		if len(c.wbuf) < 4+n {
			break
		}
		c.watch(c.wbuf[4 : 4+n])
		c.wbuf = c.wbuf[4+n:]
	}
	c.wmu.Unlock()
	return c.Conn.Write(p)
}

// watch looks at one request frame (without its size).
func (c *faultConn) watch(frame []byte) {
	if len(frame) < 10 || int16(binary.BigEndian.Uint16(frame)) != kmsg.EndTxn.Int16() {
		return
	}
	version := int16(binary.BigEndian.Uint16(frame[2:]))
	corr := int32(binary.BigEndian.Uint32(frame[4:]))
	body, err := skipRequestHeader(frame[8:], version >= 3)
	if err != nil {
		return
	}
	req := kmsg.NewEndTxnRequest()
	req.Version = version
	if req.ReadFrom(body) != nil || !req.Commit {
		return
	}
	id := [2]int64{req.ProducerID, int64(req.ProducerEpoch)}
	f := c.f
	f.mu.Lock()
	if f.armed && f.target == nil {
		f.target = &id
	}
	hit := f.target != nil && *f.target == id
	f.mu.Unlock()
	if hit {
		c.mapMu.Lock()
		c.rewrite[corr] = version
		c.mapMu.Unlock()
	}
}

// skipRequestHeader skips the client id and, in flexible versions, the header's tagged fields.
func skipRequestHeader(b []byte, flexible bool) ([]byte, error) {
	if len(b) < 2 {
		return nil, errors.New("short header")
	}
	n := int(int16(binary.BigEndian.Uint16(b)))
	b = b[2:]
	if n > 0 {
		if len(b) < n {
			return nil, errors.New("short client id")
		}
		b = b[n:]
	}
	if flexible {
		return skipTags(b)
	}
	return b, nil
}

func skipTags(b []byte) ([]byte, error) {
	count, n := binary.Uvarint(b)
	if n <= 0 {
		return nil, errors.New("bad tags")
	}
	b = b[n:]
	for i := uint64(0); i < count; i++ {
		if _, n = binary.Uvarint(b); n <= 0 {
			return nil, errors.New("bad tag")
		}
		b = b[n:]
		size, n := binary.Uvarint(b)
		if n <= 0 || uint64(len(b)-n) < size {
			return nil, errors.New("bad tag size")
		}
		b = b[n+int(size):]
	}
	return b, nil
}

func (c *faultConn) Read(p []byte) (int, error) {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	for len(c.out) == 0 {
		buf := make([]byte, 32<<10)
		n, err := c.Conn.Read(buf)
		c.rbuf = append(c.rbuf, buf[:n]...)
		for len(c.rbuf) >= 4 {
			size := int(binary.BigEndian.Uint32(c.rbuf))
			if len(c.rbuf) < 4+size {
				break
			}
			c.out = append(c.out, c.answer(c.rbuf[:4+size])...)
			c.rbuf = c.rbuf[4+size:]
		}
		if err != nil && len(c.out) == 0 {
			return 0, err
		}
	}
	n := copy(p, c.out)
	c.out = c.out[n:]
	return n, nil
}

// answer returns a response frame, garbled if it answers a chosen commit.
func (c *faultConn) answer(frame []byte) []byte {
	if len(frame) < 8 {
		return frame
	}
	corr := int32(binary.BigEndian.Uint32(frame[4:]))
	c.mapMu.Lock()
	version, hit := c.rewrite[corr]
	delete(c.rewrite, corr)
	c.mapMu.Unlock()
	if !hit {
		return frame
	}
	body := frame[8:]
	header := append([]byte(nil), frame[4:8]...)
	if version >= 3 { // flexible response header: tagged fields
		rest, err := skipTags(body)
		if err != nil {
			return frame
		}
		header = append(header, body[:len(body)-len(rest)]...)
		body = rest
	}
	resp := kmsg.NewEndTxnResponse()
	resp.Version = version
	if resp.ReadFrom(body) != nil {
		return frame
	}
	resp.ErrorCode = c.f.Code
	c.f.mu.Lock()
	c.f.rewritten++
	c.f.mu.Unlock()
	payload := resp.AppendTo(header)
	return append(binary.BigEndian.AppendUint32(nil, uint32(len(payload))), payload...)
}
