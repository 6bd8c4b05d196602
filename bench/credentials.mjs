#!/usr/bin/env node
// Fresh payment credentials for the benchmark: asks URL for a 402 COUNT
// times and has the mppx client sign an EIP-3009 authorization for each
// challenge, one line (the Authorization value) per credential.
//
//   node credentials.mjs --url URL --count N --chain chain.json --out FILE
import * as fs from 'node:fs'
import { Mppx, evm } from 'mppx/client'
import { privateKeyToAccount } from 'viem/accounts'

function args(argv) {
  const o = {}
  for (let i = 0; i < argv.length; i += 2) o[argv[i].replace(/^--/, '')] = argv[i + 1]
  for (const k of ['url', 'count', 'chain', 'out']) if (!o[k]) throw new Error(`--${k} is required`)
  return o
}

const o = args(process.argv.slice(2))
const chain = JSON.parse(fs.readFileSync(o.chain, 'utf8'))
const count = Number(o.count)
const clients = chain.payers.map((p) =>
  Mppx.create({
    methods: [evm.charge({
      account: privateKeyToAccount(p.privateKey),
      authorization: { name: chain.tokenName, version: chain.tokenVersion },
      networks: [chain.chainId],
    })],
    polyfill: false,
  }))

const out = new Array(count)
let next = 0
async function worker() {
  for (;;) {
    const i = next++
    if (i >= count) return
    const res = await fetch(o.url)
    if (res.status !== 402) throw new Error(`${o.url} answered ${res.status}, not 402`)
    out[i] = await clients[i % clients.length].createCredential(res, undefined, { request: {} })
  }
}
const t0 = Date.now()
await Promise.all(Array.from({ length: 16 }, worker))
fs.writeFileSync(o.out, out.join('\n') + '\n')
process.stderr.write(`${count} credentials for ${o.url} in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`)
