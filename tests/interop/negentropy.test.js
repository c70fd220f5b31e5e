#!/usr/bin/env node
// Interop of proto/negentropy with nostr-tools' Negentropy (nip77).
//
// usage: node negentropy.test.js <path to negentropy-harness> [--only N]
//
// For each case (a seeded pair of sets and frame limits):
//  1. nostr-tools as client against our harness as server: the have/need
//     ids must be exactly the true differences;
//  2. our harness as client against the same server: every client
//     message, cut-short ones included, must be byte-identical to
//     nostr-tools', and the have/need ids exactly the true differences,
//     each reported once (nostr-tools may repeat some after a cut-short
//     frame; the sets must still be exact).
// Then the server's answer to protocol versions it does not speak, and its
// refusal of malformed messages.  Timestamps stay below 2^31: nostr-tools'
// varints go through 32-bit bitwise operators (see proto/PROTOCOL.md §14).
// SEED=<n> in the environment changes the sets; failures print the seed.
'use strict'

const { spawn } = require('child_process')
const readline = require('readline')
const path = require('path')

const { Negentropy, NegentropyStorageVector } = require(path.join(__dirname, 'node_modules', 'nostr-tools')).nip77

const harnessBin = process.argv[2]
if (!harnessBin) {
  console.error('usage: negentropy.test.js <negentropy-harness> [--only N]')
  process.exit(2)
}
const onlyIdx = process.argv.indexOf('--only')
const only = onlyIdx > 0 ? Number(process.argv[onlyIdx + 1]) : null
const SEED = Number(process.env.SEED || 20261129)

// ---- seeded randomness (sfc32), so every failure can be replayed ----

function rng(seed) {
  let a = 0x9e3779b9, b = 0x243f6a88, c = 0xb7e15162, d = seed >>> 0
  const next = () => {
    a >>>= 0; b >>>= 0; c >>>= 0; d >>>= 0
    const t = (a + b) | 0
    a = b ^ (b >>> 9)
    b = (c + (c << 3)) | 0
    c = (c << 21) | (c >>> 11)
    d = (d + 1) | 0
    const r = (t + d) | 0
    c = (c + r) | 0
    return r >>> 0
  }
  for (let i = 0; i < 16; i++) next()
  return {
    u32: next,
    below: n => Math.floor((next() / 4294967296) * n),
    chance: p => next() / 4294967296 < p,
    hexId: () => {
      let s = ''
      for (let i = 0; i < 8; i++) s += next().toString(16).padStart(8, '0')
      return s
    },
  }
}

// ---- a harness child process, line by line ----

class Harness {
  constructor(env) {
    this.proc = spawn(harnessBin, [], {
      env: Object.assign({}, process.env, env),
      stdio: ['pipe', 'pipe', 'pipe'],
    })
    this.lines = []
    this.waiters = []
    this.stderr = ''
    this.exitCode = undefined
    this.exited = new Promise(resolve => {
      this.proc.on('close', code => {
        this.exitCode = code
        for (const w of this.waiters.splice(0)) w(null)
        resolve(code)
      })
    })
    this.proc.stdin.on('error', () => {}) // a harness that died; reported via exit
    this.proc.stderr.on('data', d => (this.stderr += d))
    readline.createInterface({ input: this.proc.stdout }).on('line', l => {
      const w = this.waiters.shift()
      if (w) w(l)
      else this.lines.push(l)
    })
  }

  send(text) {
    this.proc.stdin.write(text)
  }

  line() {
    if (this.lines.length) return Promise.resolve(this.lines.shift())
    if (this.exitCode !== undefined) return Promise.resolve(null)
    return new Promise(resolve => this.waiters.push(resolve))
  }

  async expectLine(what) {
    const l = await this.line()
    if (l === null) throw new Error(`harness exited (${this.exitCode}) while ${what}: ${this.stderr.trim()}`)
    return l
  }

  async close() {
    this.proc.stdin.end()
    return this.exited
  }
}

function itemLines(items) {
  const out = new Array(items.length)
  for (let i = 0; i < items.length; i++) out[i] = `item,${items[i].ts},${items[i].id}\n`
  return out.join('')
}

// ---- the sets ----

const BASE_TS = 1677970534

// kind: 'random' (each item on A only, B only or both, independently),
// 'clustered' (the differences are runs of consecutive items, as after a
// link was down for a while), 'a-empty', 'b-empty', 'same-ts' (every item
// has one timestamp, so bounds need id prefixes), 'spread' (timestamps up
// to 2^31).
function makeSets(c, seed) {
  const r = rng(seed)
  const n = c.n
  const universe = []
  for (let i = 0; i < n; i++) {
    let ts
    if (c.kind === 'same-ts') ts = BASE_TS
    else if (c.kind === 'spread') ts = r.below(2 ** 31 - 1)
    else ts = BASE_TS + r.below(Math.max(1, Math.floor(n / (c.dense || 1))))
    universe.push({ ts, id: r.hexId() })
  }
  universe.sort((x, y) => x.ts - y.ts || (x.id < y.id ? -1 : x.id > y.id ? 1 : 0))

  const A = [], B = []
  const p = c.diff === undefined ? 0.01 : c.diff
  if (c.kind === 'clustered') {
    // a few runs missing on one side or the other
    const side = new Uint8Array(n) // 0 both, 1 A only, 2 B only
    let budget = Math.round(n * p)
    while (budget > 0) {
      const len = Math.min(budget, 1 + r.below(Math.max(1, Math.floor(n * p / 3))))
      const start = r.below(Math.max(1, n - len))
      const s = r.chance(0.5) ? 1 : 2
      for (let i = start; i < start + len && i < n; i++) side[i] = s
      budget -= len
    }
    universe.forEach((it, i) => {
      if (side[i] !== 2) A.push(it)
      if (side[i] !== 1) B.push(it)
    })
  } else {
    for (const it of universe) {
      if (c.kind === 'a-empty') B.push(it)
      else if (c.kind === 'b-empty') A.push(it)
      else {
        const x = r.u32() / 4294967296
        if (x < p / 2) A.push(it)
        else if (x < p) B.push(it)
        else {
          A.push(it)
          B.push(it)
        }
      }
    }
  }
  // shuffle so the implementations' sorting is exercised too
  for (const L of [A, B])
    for (let i = L.length - 1; i > 0; i--) {
      const j = r.below(i + 1)
      const t = L[i]
      L[i] = L[j]
      L[j] = t
    }
  const inA = new Set(A.map(x => x.id))
  const inB = new Set(B.map(x => x.id))
  return {
    A,
    B,
    have: new Set(A.filter(x => !inB.has(x.id)).map(x => x.id)),
    need: new Set(B.filter(x => !inA.has(x.id)).map(x => x.id)),
  }
}

function checkDiff(got, want, what, once) {
  if (once && got.list.length !== got.set.size) throw new Error(`${what} reported an id twice`)
  if (got.set.size !== want.size) throw new Error(`${what}: ${got.set.size} ids, expected ${want.size}`)
  for (const id of want) if (!got.set.has(id)) throw new Error(`${what} misses ${id}`)
}

function collector() {
  const c = { list: [], set: new Set() }
  c.add = id => {
    c.list.push(id)
    c.set.add(id)
  }
  return c
}

// nostr-tools client against our server
async function runNostrClient(sets, c) {
  const storage = new NegentropyStorageVector()
  for (const it of sets.A) storage.insert(it.ts, it.id)
  storage.seal()
  const neg = new Negentropy(storage, c.client)
  const server = new Harness({ FRAMESIZELIMIT: String(c.server) })
  server.send(itemLines(sets.B) + 'seal\n')
  const have = collector(), need = collector()
  const msgs = []
  let bytesUp = 0, bytesDown = 0
  let msg = neg.initiate()
  while (msg !== null) {
    msgs.push(msg)
    bytesUp += msg.length / 2
    server.send(`msg,${msg}\n`)
    const l = await server.expectLine('answering nostr-tools')
    if (!l.startsWith('msg,')) throw new Error(`server said '${l}'`)
    const ans = l.slice(4)
    bytesDown += ans.length / 2
    if (c.server && ans.length / 2 > c.server) throw new Error('server exceeded its frame limit')
    msg = neg.reconcile(ans, have.add, need.add)
    if (msg !== null && msg.length / 2 > c.client) throw new Error('nostr-tools exceeded its frame limit')
  }
  const code = await server.close()
  if (code !== 0) throw new Error(`server exited ${code}: ${server.stderr}`)
  return { msgs, have, need, bytesUp, bytesDown }
}

// our client against our server
async function runOurClient(sets, c) {
  const client = new Harness({ FRAMESIZELIMIT: String(c.client) })
  const server = new Harness({ FRAMESIZELIMIT: String(c.server) })
  client.send(itemLines(sets.A) + 'seal\ninitiate\n')
  server.send(itemLines(sets.B) + 'seal\n')
  const have = collector(), need = collector()
  const msgs = []
  let l = await client.expectLine('initiating')
  for (;;) {
    if (!l.startsWith('msg,')) throw new Error(`client said '${l}'`)
    msgs.push(l.slice(4))
    server.send(`${l}\n`)
    const ans = await server.expectLine('answering our client')
    client.send(`${ans}\n`)
    for (;;) {
      l = await client.expectLine('reconciling')
      if (l.startsWith('have,')) have.add(l.slice(5))
      else if (l.startsWith('need,')) need.add(l.slice(5))
      else break
    }
    if (l === 'done') break
  }
  const codes = await Promise.all([client.close(), server.close()])
  if (codes[0] !== 0 || codes[1] !== 0) throw new Error(`harness exit codes ${codes}: ${client.stderr} ${server.stderr}`)
  return { msgs, have, need }
}

const cases = [
  // n, kind, diff, client frame limit, server frame limit (0 = none)
  { n: 0, kind: 'random', client: 4096, server: 0 },
  { n: 1, kind: 'b-empty', client: 4096, server: 0 },
  { n: 1, kind: 'a-empty', client: 4096, server: 4096 },
  { n: 31, kind: 'random', diff: 0.3, client: 4096, server: 0 },
  { n: 32, kind: 'random', diff: 0.3, client: 4096, server: 0 },
  { n: 33, kind: 'random', diff: 0.3, client: 60000, server: 0 },
  { n: 100, kind: 'random', diff: 0.5, client: 4096, server: 4096 },
  { n: 300, kind: 'same-ts', diff: 0.1, client: 4096, server: 0 },
  { n: 1000, kind: 'random', diff: 0, client: 60000, server: 0 },
  { n: 1000, kind: 'random', diff: 0.05, client: 4096, server: 8192 },
  { n: 2000, kind: 'same-ts', diff: 0.02, client: 8192, server: 4096 },
  { n: 3000, kind: 'spread', diff: 0.02, client: 4096, server: 0 },
  { n: 3000, kind: 'random', dense: 50, diff: 0.02, client: 4096, server: 0 },
  { n: 5000, kind: 'a-empty', client: 4096, server: 4096 },
  { n: 5000, kind: 'b-empty', client: 8192, server: 0 },
  { n: 10000, kind: 'random', diff: 0.01, client: 60000, server: 0 },
  { n: 10000, kind: 'clustered', diff: 0.05, client: 4096, server: 4096 },
  { n: 10000, kind: 'random', diff: 0.5, client: 16384, server: 4096 },
  { n: 100000, kind: 'random', diff: 0.01, client: 60000, server: 0 },
  { n: 100000, kind: 'clustered', diff: 0.01, client: 4096, server: 4096 },
  { n: 100000, kind: 'random', diff: 0.001, client: 500000, server: 60000 },
]

async function checkVersions() {
  // a server that is asked in a version it does not speak answers with its
  // own version byte alone, and then still serves v1
  const ref = new Harness({})
  ref.send(itemLines([{ ts: 12345, id: 'ee'.repeat(32) }]) + 'seal\nmsg,6100000200\n')
  const want = await ref.expectLine('answering v1')
  await ref.close()
  if (!want.startsWith('msg,61') || want.length <= 6) throw new Error(`odd v1 answer ${want}`)

  const h = new Harness({})
  h.send(itemLines([{ ts: 12345, id: 'ee'.repeat(32) }]) + 'seal\n')
  for (const m of ['62', '62aabbccddeeff', '6f00', '60']) {
    h.send(`msg,${m}\n`)
    const l = await h.expectLine(`answering version ${m}`)
    if (l !== 'msg,61') throw new Error(`answer to version byte ${m.slice(0, 2)} was '${l}', expected 'msg,61'`)
  }
  h.send('msg,6100000200\n')
  const again = await h.expectLine('answering v1 after a fallback')
  if (again !== want) throw new Error(`after the fallback: '${again}', expected '${want}'`)
  if ((await h.close()) !== 0) throw new Error(`harness failed: ${h.stderr}`)

  // bytes that are no version at all, and malformed v1 messages, are
  // refused with a reason and status 1 (no crash, no answer)
  const bad = [
    ['', 'empty message'],
    ['5f', 'version byte below 0x60'],
    ['70', 'version byte above 0x6f'],
    ['6100', 'bound cut short'],
    ['610021' + '00'.repeat(33) + '00', 'id prefix longer than 32'],
    ['61000003', 'unknown mode'],
    ['6100000105', 'fingerprint cut short'],
    ['610000020300', 'IdList longer than the message'],
    ['61ffffffffffffffffffff7f0000', 'varint over 64 bits'],
  ]
  for (const [m, what] of bad) {
    const b = new Harness({})
    b.send('item,1,' + '11'.repeat(32) + '\nseal\n' + `msg,${m}\n`)
    const code = await b.close()
    const out = b.lines.join('|')
    if (code !== 1 || out !== '' || !/negentropy-harness: line 3: \S/.test(b.stderr))
      throw new Error(`${what} (msg,${m}): exit ${code}, stdout '${out}', stderr '${b.stderr.trim()}'`)
  }

  // our client refuses to go on with a server that speaks another version
  const cl = new Harness({})
  cl.send('seal\ninitiate\n')
  await cl.expectLine('initiating')
  cl.send('msg,62\n')
  const code = await cl.close()
  if (code !== 1 || !/version/.test(cl.stderr)) throw new Error(`client accepted version 2: exit ${code} ${cl.stderr}`)
}

let totalCut = 0

async function main() {
  let failed = 0
  const t0 = Date.now()
  for (let i = 0; i < cases.length; i++) {
    if (only !== null && i !== only) continue
    const c = cases[i]
    const label = `case ${i} (n=${c.n} ${c.kind}${c.dense ? ' dense=' + c.dense : ''} diff=${c.diff ?? 0.01} client=${c.client} server=${c.server} seed=${SEED})`
    try {
      const sets = makeSets(c, SEED + i)
      const t1 = Date.now()
      const nt = await runNostrClient(sets, c)
      const t2 = Date.now()
      // nostr-tools may report an id twice after a cut-short frame; sets
      // must still be exact
      checkDiff(nt.have, sets.have, 'nostr-tools have', false)
      checkDiff(nt.need, sets.need, 'nostr-tools need', false)
      const ours = await runOurClient(sets, c)
      const t3 = Date.now()
      if (ours.msgs.length !== nt.msgs.length)
        throw new Error(`our client sent ${ours.msgs.length} messages, nostr-tools ${nt.msgs.length}`)
      let cut = 0
      for (let k = 0; k < nt.msgs.length; k++) {
        if (ours.msgs[k] !== nt.msgs[k]) throw new Error(`client message ${k} differs from nostr-tools'`)
        if (c.client && nt.msgs[k].length / 2 > c.client - 200 - 1300) cut++
      }
      checkDiff(ours.have, sets.have, 'our have', true)
      checkDiff(ours.need, sets.need, 'our need', true)
      totalCut += cut
      const dups = nt.have.list.length - nt.have.set.size + nt.need.list.length - nt.need.set.size
      console.log(
        `ok ${label}: |A|=${sets.A.length} |B|=${sets.B.length} have=${sets.have.size} need=${sets.need.size} ` +
          `rounds=${nt.msgs.length} identical=${nt.msgs.length}/${nt.msgs.length} (near the limit: ${cut}) ` +
          `up=${nt.bytesUp}B down=${nt.bytesDown}B ` +
          `nostr-tools ${t2 - t1} ms, ours ${t3 - t2} ms${dups ? `, nostr-tools repeated ${dups} ids` : ''}`,
      )
    } catch (e) {
      failed++
      console.log(`FAIL ${label}: ${e.message}`)
    }
  }
  if (only === null && totalCut === 0) {
    failed++
    console.log('FAIL: no client message came near its frame limit; the cut-short rule was not compared')
  }
  if (only === null) {
    try {
      await checkVersions()
      console.log('ok protocol versions and malformed messages')
    } catch (e) {
      failed++
      console.log(`FAIL versions: ${e.message}`)
    }
  }
  console.log(`${failed ? 'FAILED' : 'passed'} in ${Date.now() - t0} ms (seed ${SEED})`)
  process.exit(failed ? 1 : 0)
}

main().catch(e => {
  console.error(e)
  process.exit(1)
})
