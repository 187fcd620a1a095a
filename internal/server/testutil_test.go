package server

import (
	"net/http"
	"net/http/httptest"
	"time"
)

func httptestRequest() *http.Request { return httptest.NewRequest(http.MethodPost, "/", nil) }

func sleepBriefly() { time.Sleep(50 * time.Millisecond) }
