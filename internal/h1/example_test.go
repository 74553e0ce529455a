package h1_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/kinesis-agg/kinesis_agg/internal/h1"
)

func ExampleClient_Do() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Length", fmt.Sprint(len(b)))
		io.WriteString(w, strings.ToUpper(string(b)))
	}))
	defer srv.Close()

	c, err := h1.New(h1.Config{Scheme: "http", Host: strings.TrimPrefix(srv.URL, "http://"), RequestTimeout: 10 * time.Second})
	if err != nil {
		panic(err)
	}
	defer c.CloseIdleConnections()
	req := &h1.Request{Method: "POST", Path: "/shout", Header: []h1.Field{{Name: "Content-Type", Value: "text/plain"}}}
	var resp h1.Response // reused: its buffers serve the next request too
	for _, word := range []string{"hello", "again"} {
		req.Body = []byte(word)
		if err := c.Do(context.Background(), req, &resp); err != nil {
			panic(err)
		}
		fmt.Println(resp.StatusCode, string(resp.Body), string(resp.Get("x-length")))
	}
	// Output:
	// 200 HELLO 5
	// 200 AGAIN 5
}
