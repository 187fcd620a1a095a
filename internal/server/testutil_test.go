package server

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"time"
)

func httptestRequest() *http.Request { return httptest.NewRequest(http.MethodPost, "/", nil) }

func sleepBriefly() { time.Sleep(50 * time.Millisecond) }

func stringsReader(s string) *strings.Reader { return strings.NewReader(s) }

func itoa(i int) string { return strconv.Itoa(i) }
