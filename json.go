package websocket

import (
	"encoding/json"
	"io"
	"strings"
)

// WriteJSON writes the JSON encoding of v as a text message. It holds the
// message slot while encoding, like [Conn.NextWriter].
func (c *Conn) WriteJSON(v interface{}) error {
	w, err := c.NextWriter(TextMessage)
	if err != nil {
		return err
	}
	err1 := json.NewEncoder(w).Encode(v)
	err2 := w.Close()
	if err1 != nil {
		return err1
	}
	return err2
}

// ReadJSON reads the next data message and decodes it as JSON into v. A
// message that ends before the JSON value does yields
// io.ErrUnexpectedEOF.
func (c *Conn) ReadJSON(v interface{}) error {
	_, r, err := c.NextReader()
	if err != nil {
		return err
	}
	err = json.NewDecoder(r).Decode(v)
	if err == io.EOF {
		// One value is expected in the message.
		err = io.ErrUnexpectedEOF
	}
	return err
}

// WriteJSON writes the JSON encoding of v as a text message.
//
// Deprecated: Use [Conn.WriteJSON].
func WriteJSON(c *Conn, v interface{}) error { return c.WriteJSON(v) }

// ReadJSON reads the next data message and decodes it as JSON into v.
//
// Deprecated: Use [Conn.ReadJSON].
func ReadJSON(c *Conn, v interface{}) error { return c.ReadJSON(v) }

// JoinMessages concatenates the data messages read from c into one stream,
// with term after each message. The reader reads from c as needed; only
// one goroutine may use it, and no other reads may be done on c meanwhile.
// It returns the connection's read error when the connection ends.
func JoinMessages(c *Conn, term string) io.Reader {
	return &joinReader{c: c, term: term}
}

type joinReader struct {
	c    *Conn
	term string
	r    io.Reader
}

func (j *joinReader) Read(p []byte) (int, error) {
	if j.r == nil {
		var err error
		_, j.r, err = j.c.NextReader()
		if err != nil {
			return 0, err
		}
		if j.term != "" {
			j.r = io.MultiReader(j.r, strings.NewReader(j.term))
		}
	}
	n, err := j.r.Read(p)
	if err == io.EOF {
		err = nil
		j.r = nil
	}
	return n, err
}
