package standalone_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/openwhisk-client-go/whisk"

	"github.com/wasmwhisk/wasmwhisk/internal/testbuild"
	"github.com/wasmwhisk/wasmwhisk/standalone"
)

// npmOpenwhisk is the npm openwhisk client the end-to-end test installs (an exact version).
const npmOpenwhisk = "openwhisk@3.21.9"

// npmScript drives the server with the npm client as a Node.js user would: an action in a package
// (package parameter, then the invoker's), a sequence across the package, and web actions called
// by URL. It throws (exit 1) at the first difference and prints "ok" at the end.
const npmScript = `'use strict'
const assert = require('assert')
const fs = require('fs')
const http = require('http')
const openwhisk = require('openwhisk')

const apihost = process.env.APIHOST
const ow = openwhisk({ apihost, api_key: process.env.AUTH })
const hello = fs.readFileSync(process.env.HELLO)
const reply = fs.readFileSync(process.env.REPLY)

function get (url) {
  return new Promise((resolve, reject) => {
    http.get(url, res => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', d => { body += d })
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body }))
    }).on('error', reject)
  })
}

async function main () {
  // An action in a package.
  await ow.packages.create({ name: 'demo', package: { parameters: [{ key: 'name', value: 'package' }] } })
  await ow.actions.create({ name: 'demo/hello', action: hello, kind: 'wasm:0.1' })
  let r = await ow.actions.invoke({ name: 'demo/hello', blocking: true, result: true })
  assert.strictEqual(r.greeting, 'Hello, package!')
  r = await ow.actions.invoke({ name: 'demo/hello', blocking: true, result: true, params: { name: 'npm' } })
  assert.strictEqual(r.greeting, 'Hello, npm!')
  const pkg = await ow.packages.get({ name: 'demo' })
  assert.deepStrictEqual(pkg.actions.map(a => a.name), ['hello'])
  const all = await ow.actions.list()
  assert.ok(all.some(a => a.namespace === 'guest/demo' && a.name === 'hello'), JSON.stringify(all))

  // A sequence: demo/hello then hello, the first one's result the second one's input.
  await ow.actions.create({ name: 'hello', action: hello, kind: 'wasm:0.1' })
  await ow.actions.create({ name: 'twice', sequence: ['/_/demo/hello', '/_/hello'] })
  const rec = await ow.actions.invoke({ name: 'twice', blocking: true, params: { name: 'seq' } })
  assert.strictEqual(rec.response.result.greeting, 'Hello, stranger!')
  assert.strictEqual(rec.response.result.params.greeting, 'Hello, seq!')
  assert.strictEqual(rec.logs.length, 2)
  assert.ok(rec.annotations.some(a => a.key === 'topmost' && a.value === true))
  const first = await ow.activations.get({ name: rec.logs[0] })
  assert.strictEqual(first.cause, rec.activationId)
  assert.strictEqual(first.name, 'hello')

  // Web actions, called by URL without credentials.
  await ow.actions.create({
    name: 'page',
    action: {
      exec: { kind: 'wasm:0.1', code: reply.toString('base64') },
      annotations: [{ key: 'web-export', value: true }],
      parameters: [{ key: 'reply', value: { statusCode: 200, headers: { 'content-type': 'text/html' }, body: '<p>hi</p>' } }]
    }
  })
  let res = await get(apihost + '/api/v1/web/guest/default/page.http')
  assert.strictEqual(res.status, 200)
  assert.strictEqual(res.body, '<p>hi</p>')
  assert.strictEqual(res.headers['content-type'], 'text/html; charset=UTF-8')
  await ow.actions.create({
    name: 'demo/web',
    action: { exec: { kind: 'wasm:0.1', code: hello.toString('base64') }, annotations: [{ key: 'web-export', value: true }] }
  })
  res = await get(apihost + '/api/v1/web/guest/demo/web.json?name=web')
  assert.strictEqual(res.status, 200)
  const answer = JSON.parse(res.body)
  assert.strictEqual(answer.greeting, 'Hello, web!')
  assert.strictEqual(answer.params.__ow_method, 'get')
  assert.strictEqual(answer.params.name, 'web')
  const id = res.headers['x-openwhisk-activation-id']
  const webRec = await ow.activations.get({ name: id })
  assert.strictEqual(webRec.response.success, true)
  console.log('ok')
}

main().catch(err => {
  console.error(err && err.stack ? err.stack : err)
  process.exit(1)
})
`

// TestNpmOpenwhiskClient runs npmScript with the npm openwhisk client, installed into a temporary
// directory from the npm registry. Without npm the test is skipped on a developer's machine and
// fails under CI=true, where it must run.
func TestNpmOpenwhiskClient(t *testing.T) {
	npm, errNpm := exec.LookPath("npm")
	node, errNode := exec.LookPath("node")
	if errNpm != nil || errNode != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI needs node and npm for the npm openwhisk client test: %v %v", errNpm, errNode)
		}
		t.Skipf("node or npm not installed: %v %v", errNpm, errNode)
	}
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	install := exec.CommandContext(ctx, npm, "install", "--no-audit", "--no-fund", "--loglevel=error",
		"--prefix", dir, npmOpenwhisk)
	install.Dir = dir
	install.Env = append(os.Environ(), "npm_config_update_notifier=false")
	if out, err := install.CombinedOutput(); err != nil {
		t.Fatalf("npm install %s: %v\n%s", npmOpenwhisk, err, out)
	}

	srv := startServer(t, newWasmHost(t), nil)
	script := filepath.Join(dir, "e2e.js")
	if err := os.WriteFile(script, []byte(npmScript), 0o644); err != nil {
		t.Fatal(err)
	}
	run := exec.CommandContext(ctx, node, script)
	run.Dir = dir
	run.Env = append(os.Environ(),
		"APIHOST="+srv.URL(), "AUTH="+standalone.GuestKey,
		"HELLO="+testbuild.MustBuild(t, testbuild.Target{Pkg: "./actions/hello", WASM: true}),
		"REPLY="+testbuild.MustBuild(t, testbuild.Target{Pkg: "./actions/reply", WASM: true}),
		"NODE_PATH="+filepath.Join(dir, "node_modules"))
	out, err := run.CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "ok" {
		t.Fatalf("node e2e.js: %v\n%s", err, out)
	}

	// What the script did is in the store as client-go sees it.
	c := newClient(t, srv)
	acts, _, err := c.Activations.List(&whisk.ActivationListOptions{Name: "twice", Docs: true})
	if err != nil || len(acts) != 1 || len(acts[0].Logs) != 2 {
		t.Fatalf("sequence record: %v %+v", err, acts)
	}
	c.Namespace = "_"
	if acts, _, err := c.Activations.List(&whisk.ActivationListOptions{Name: "demo/web"}); err != nil || len(acts) != 1 {
		t.Errorf("web action record: %v %d", err, len(acts))
	}
}
