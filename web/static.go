// Package web holds the portal's pages and components (templ) and its static
// assets, embedded into the binary.
package web

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"path"
	"strings"
)

//go:embed static
var staticFS embed.FS

// assetNames maps a plain asset name to its fingerprinted name, and back.
var assetNames, assetFiles = fingerprint()

func fingerprint() (map[string]string, map[string]string) {
	names, files := map[string]string{}, map[string]string{}
	_ = fs.WalkDir(staticFS, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := staticFS.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		name := strings.TrimPrefix(p, "static/")
		ext := path.Ext(name)
		fp := strings.TrimSuffix(name, ext) + "." + hex.EncodeToString(sum[:])[:12] + ext
		names[name] = fp
		files[fp] = p
		return nil
	})
	return names, files
}

// Asset returns the URL of a static asset, fingerprinted so it can be cached
// for a year.
func Asset(name string) string {
	if fp, ok := assetNames[name]; ok {
		return "/static/" + fp
	}
	return "/static/" + name
}

// StaticHandler serves fingerprinted assets with a long cache lifetime.
func StaticHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(r.URL.Path, "/static/")
		p, ok := assetFiles[name]
		if !ok {
			http.NotFound(w, r)
			return
		}
		b, err := staticFS.ReadFile(p)
		if err != nil {
			http.NotFound(w, r)
			return
		}
		switch path.Ext(p) {
		case ".css":
			w.Header().Set("Content-Type", "text/css; charset=utf-8")
		case ".js":
			w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
		case ".svg":
			w.Header().Set("Content-Type", "image/svg+xml")
		}
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		_, _ = w.Write(b)
	})
}
