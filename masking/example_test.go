package masking_test

import (
	"encoding/base64"
	"fmt"
	"log/slog"
	"os"

	"github.com/wfrun/wfrun/masking"
)

func ExampleMasker() {
	m := masking.New()
	m.Register("s3cr3t-api-token")
	basic := base64.StdEncoding.EncodeToString([]byte("deploy:s3cr3t-api-token"))
	fmt.Println(m.MaskString("token=s3cr3t-api-token"))
	fmt.Println(m.MaskString("url=https://x/?k=s3cr3t-api-token&page=2"))
	// Inside a base64 blob only the characters that depend on the user
	// name stay visible.
	fmt.Println(m.MaskString("Authorization: Basic " + basic))
	// Output:
	// token=***
	// url=https://x/?k=***&page=2
	// Authorization: Basic ZGVwbG95On***4=
}

func ExampleMasker_MaskJSON() {
	m := masking.New()
	m.Register(`pa"ss`)
	out, err := m.MaskJSON([]byte(`{"password":"pa\"ss","note":"uses pa\"ss"}`))
	fmt.Println(string(out), err)
	// Output: {"password":"***","note":"uses ***"} <nil>
}

func ExampleMasker_NewWriter() {
	m := masking.New()
	m.Register("hunter2-hunter2")
	w := m.NewWriter(os.Stdout)
	fmt.Fprint(w, "password: hunter2-")
	fmt.Fprint(w, "hunter2 accepted\n")
	w.Close()
	// Output: password: *** accepted
}

func ExampleNewHandler() {
	m := masking.New()
	m.Register("tok-123456")
	h := slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	})
	log := slog.New(masking.NewHandler(m, h))
	log.Info("calling API with tok-123456", "header", "Bearer tok-123456")
	// Output: level=INFO msg="calling API with ***" header="Bearer ***"
}

func ExampleView() {
	doc := []byte(`{"input":{"user":"ann","password":"pw"},"tasks":[{"outputData":{"_secrets":{"t":"x"},"_masked":"m","ok":1}}]}`)
	view, _ := masking.View(doc, []string{"password"})
	fmt.Println(string(view))
	// Output: {"input":{"user":"ann","password":"***"},"tasks":[{"outputData":{"_secrets":"***","_masked":"***","ok":1}}]}
}

func ExampleArchive() {
	doc := []byte(`{"input":{"_secrets":{"seed":"s"}},"tasks":[{"status":"COMPLETED","outputData":{"_secrets":{"t":"x"},"_masked":"kept"}}]}`)
	arch, _ := masking.Archive(doc, nil)
	fmt.Println(string(arch))
	fmt.Println(masking.ArchivedSecretsNeeded(arch))
	// Output:
	// {"input":{"_secrets":"***"},"tasks":[{"status":"COMPLETED","outputData":{"_secrets":"***","_masked":"kept"}}]}
	// [/input/_secrets /tasks/0/outputData/_secrets]
}

// ContainsAny tells which stored documents a value registered mid-run can
// be in, so only those are masked again.
func ExampleMasker_ContainsAny() {
	m := masking.New()
	m.Register("first-token-0001")
	since := m.Len() // the stored documents below were masked at this point
	stored := map[string][]byte{
		"task1": []byte(`{"out":"***"}`),
		"task2": []byte(`{"out":"got rotated-token-0002"}`),
		"task3": []byte(`{"out":"got rotated\u002dtoken-0002"}`),
	}
	m.Register("rotated-token-0002")
	for _, name := range []string{"task1", "task2", "task3"} {
		if m.ContainsAny(stored[name], since) {
			out, _ := m.MaskJSON(stored[name])
			fmt.Println(name, string(out))
		}
	}
	// Output:
	// task2 {"out":"got ***"}
	// task3 {"out":"got ***"}
}
