#!/usr/bin/env node
// Pays a URL with the mppx client (evm/charge, EIP-3009 `authorization`).
//
//   node pay.mjs URL --key 0xPRIVATEKEY --rpc http://127.0.0.1:PORT [options]
//
// Options:
//   --method M             HTTP method (default GET)
//   --data TEXT            request body
//   --header "Name: value" extra request header (repeatable)
//   --credential-only      fetch the 402, print the Authorization value mppx
//                          would send, and do not send it
//   --token-name N, --token-version V
//                          the token's EIP-712 domain; read from the token
//                          (over --rpc) when not given
//   --max-amount UNITS     refuse challenges above this many base units
//   --any-chain            sign for any chainId (default: only the chain
//                          --rpc reports)
//
// Prints one JSON document:
//   {status, headers, body, receipt, credential, decodedCredential, challenge}
// where `credential` is the Authorization value sent (or that would be sent)
// and `receipt` the decoded Payment-Receipt, if any. Exit status: 0 when the
// exchange completed (whatever the HTTP status), 1 when mppx refused to pay
// (the JSON then has `error`), 2 on bad usage.

import * as path from 'node:path'
import { fileURLToPath } from 'node:url'
import { Mppx, evm } from 'mppx/client'
import { privateKeyToAccount } from 'viem/accounts'
import {
  decodeCredential,
  finish,
  headerPairs,
  headersObject,
  parseArgs,
  publicClientFor,
  receiptOf,
  tokenDomain,
} from './lib.mjs'

const SPEC = {
  key: 'string',
  rpc: 'string',
  method: 'string',
  data: 'string',
  header: 'list',
  'credential-only': 'boolean',
  'token-name': 'string',
  'token-version': 'string',
  'max-amount': 'string',
  'any-chain': 'boolean',
}

/**
 * Runs the payment. Returns the JSON document pay.mjs prints.
 * `options` uses the CLI option names (see SPEC).
 */
function checkOptions(options) {
  if (!options.key) throw new Error('--key is required')
  if (!options.rpc && !(options['token-name'] && options['token-version'] && options['any-chain']))
    throw new Error('--rpc is required (unless --token-name, --token-version and --any-chain are all given)')
  if (!options['token-name'] !== !options['token-version']) throw new Error('give both --token-name and --token-version, or neither')
}

export async function pay(url, options) {
  checkOptions(options)
  const account = privateKeyToAccount(options.key)
  const init = { method: options.method ?? 'GET', headers: headerPairs(options.header ?? []) }
  if (options.data !== undefined) init.body = options.data

  // 1. Ask for the resource and let mppx pick the evm/charge challenge.
  const probe = Mppx.create({ methods: [evm.charge({})], polyfill: false })
  const prepared = await probe.prepareRequest(url, init)
  if (!prepared.payment) {
    return {
      status: prepared.response.status,
      headers: headersObject(prepared.response.headers),
      body: await prepared.response.text(),
      receipt: receiptOf(prepared.response.headers),
      credential: null,
      decodedCredential: null,
      challenge: null,
    }
  }
  const challenge = prepared.payment.challenge

  // 2. What the wallet knows: the token's EIP-712 domain and its chain.
  const client = options.rpc ? publicClientFor(options.rpc) : null
  const authorization =
    options['token-name'] && options['token-version']
      ? { name: options['token-name'], version: options['token-version'] }
      : await tokenDomain(client, challenge.request.currency)
  const networks = options['any-chain'] ? undefined : [await client.getChainId()]

  // 3. The paying client.
  const mppx = Mppx.create({
    methods: [
      evm.charge({
        account,
        authorization,
        ...(networks && { networks }),
        ...(options['max-amount'] !== undefined && { maxAtomicAmount: options['max-amount'] }),
      }),
    ],
    polyfill: false,
    maxPaymentRetries: 1,
  })

  if (options['credential-only']) {
    const credential = await mppx.createCredential(prepared.response, undefined, { request: init })
    return {
      status: prepared.response.status,
      headers: headersObject(prepared.response.headers),
      body: await prepared.response.text(),
      receipt: null,
      credential,
      decodedCredential: decodeCredential(credential),
      challenge,
    }
  }

  // 4. Pay: mppx.fetch asks again, signs the new challenge and retries once.
  let sent = null
  let paidChallenge = null
  mppx.onCredentialCreated(({ credential, challenge }) => {
    sent = credential
    paidChallenge = challenge
  })
  const response = await mppx.fetch(url, init)
  return {
    status: response.status,
    headers: headersObject(response.headers),
    body: await response.text(),
    receipt: receiptOf(response.headers),
    credential: sent,
    decodedCredential: sent ? decodeCredential(sent) : null,
    challenge: paidChallenge,
  }
}

async function main() {
  let url, options
  try {
    const args = parseArgs(process.argv.slice(2), SPEC)
    if (args.positional.length !== 1) throw new Error('expected exactly one URL')
    ;[url] = args.positional
    options = args.options
    checkOptions(options)
  } catch (error) {
    process.stderr.write(`pay.mjs: ${error.message}\nusage: node pay.mjs URL --key 0x... --rpc URL [--credential-only] [...]\n`)
    process.exit(2)
  }
  try {
    finish(await pay(url, options))
  } catch (error) {
    finish({ error: error.message }, 1)
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main()
