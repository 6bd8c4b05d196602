#!/usr/bin/env node
// Answers an evm/charge challenge with a `transaction` or `hash` credential,
// built with viem (mppx only writes `authorization` credentials).
//
//   node viem-pay.mjs URL --type transaction|hash --key 0xPRIVATEKEY --rpc URL [options]
//
//   transaction  the payer signs an EIP-1559 transaction calling
//                transfer(recipient, amount) on the token; it is NOT
//                broadcast: payload {type: "transaction", signature: "0x02..."}
//   hash         the payer broadcasts that transfer and waits for it to be
//                mined: payload {type: "hash", hash: "0x..."}
//
// Options:
//   --method M, --data TEXT, --header "Name: value" (repeatable)
//                          the HTTP request, as in pay.mjs
//   --credential-only      print the Authorization value, do not send it
//                          (a `hash` transfer is still broadcast)
//   --amount UNITS, --recipient 0x.., --currency 0x.., --chain-id N
//                          pay other terms than the challenge's (for
//                          negative tests)
//   --nonce N, --gas N     transaction nonce and gas limit (default: the
//                          payer's pending nonce; an estimate)
//   --no-source            leave out `source`
//
// The credential echoes the challenge parameters exactly as received (the
// `request` as its base64url string) and carries
// source = did:pkh:eip155:<chainId>:<payer>. Prints one JSON document:
//   {status, headers, body, receipt, credential, decodedCredential,
//    challenge, request, transactionHash}

import * as path from 'node:path'
import { fileURLToPath } from 'node:url'
import { createWalletClient, encodeFunctionData, erc20Abi, getAddress, http, keccak256 } from 'viem'
import { privateKeyToAccount } from 'viem/accounts'
import { localChain } from './chain.mjs'
import {
  b64urlDecodeJson,
  decodeCredential,
  echoOf,
  encodeCredential,
  finish,
  headerPairs,
  headersObject,
  parseArgs,
  parseChallenges,
  publicClientFor,
  receiptOf,
} from './lib.mjs'

const SPEC = {
  type: 'string',
  key: 'string',
  rpc: 'string',
  method: 'string',
  data: 'string',
  header: 'list',
  'credential-only': 'boolean',
  amount: 'string',
  recipient: 'string',
  currency: 'string',
  'chain-id': 'string',
  nonce: 'string',
  gas: 'string',
  'no-source': 'boolean',
}

/** The first evm/charge challenge of a 402, as {params, request}. */
export function evmChallenge(response) {
  const value = response.headers.get('www-authenticate')
  if (!value) throw new Error(`no WWW-Authenticate in the ${response.status} response`)
  for (const { scheme, params } of parseChallenges(value)) {
    if (scheme.toLowerCase() === 'payment' && params.method === 'evm' && params.intent === 'charge' && params.request)
      return { params, request: b64urlDecodeJson(params.request) }
  }
  throw new Error('no Payment challenge with method="evm" intent="charge"')
}

/** The payload of a `transaction` or `hash` credential for `terms`. */
export async function buildPayload({ type, account, rpc, terms, nonce, gas }) {
  const publicClient = publicClientFor(rpc)
  const data = encodeFunctionData({ abi: erc20Abi, functionName: 'transfer', args: [terms.recipient, terms.amount] })
  if (type === 'transaction') {
    const txNonce = nonce ?? (await publicClient.getTransactionCount({ address: account.address, blockTag: 'pending' }))
    let gasLimit = gas
    if (gasLimit === undefined) {
      try {
        gasLimit = ((await publicClient.estimateGas({ account: account.address, to: terms.currency, data })) * 12n) / 10n
      } catch {
        gasLimit = 100000n // the transfer would revert: sign it anyway
      }
    }
    const fees = await publicClient.estimateFeesPerGas()
    const signature = await account.signTransaction({
      type: 'eip1559',
      chainId: terms.chainId,
      nonce: txNonce,
      to: terms.currency,
      value: 0n,
      data,
      gas: gasLimit,
      maxFeePerGas: fees.maxFeePerGas,
      maxPriorityFeePerGas: fees.maxPriorityFeePerGas,
    })
    return { payload: { type: 'transaction', signature }, transactionHash: keccak256(signature) }
  }
  if (type === 'hash') {
    const wallet = createWalletClient({ account, chain: localChain(rpc), transport: http(rpc, { retryCount: 0 }) })
    const hash = await wallet.sendTransaction({
      to: terms.currency,
      data,
      ...(nonce !== undefined && { nonce }),
      ...(gas !== undefined && { gas }),
    })
    const receipt = await publicClient.waitForTransactionReceipt({ hash, pollingInterval: 50 })
    if (receipt.status !== 'success') throw new Error(`the transfer ${hash} reverted`)
    return { payload: { type: 'hash', hash }, transactionHash: hash }
  }
  throw new Error(`--type must be transaction or hash, not ${type}`)
}

function checkOptions(options) {
  for (const name of ['type', 'key', 'rpc']) if (!options[name]) throw new Error(`--${name} is required`)
  if (!['transaction', 'hash'].includes(options.type)) throw new Error(`--type must be transaction or hash, not ${options.type}`)
}

export async function viemPay(url, options) {
  checkOptions(options)
  const account = privateKeyToAccount(options.key)
  const init = { method: options.method ?? 'GET', headers: headerPairs(options.header ?? []) }
  if (options.data !== undefined) init.body = options.data

  const first = await fetch(url, init)
  const firstBody = await first.text()
  if (first.status !== 402) {
    return {
      status: first.status, headers: headersObject(first.headers), body: firstBody, receipt: receiptOf(first.headers),
      credential: null, decodedCredential: null, challenge: null, request: null, transactionHash: null,
    }
  }
  const { params, request } = evmChallenge(first)
  const terms = {
    amount: BigInt(options.amount ?? request.amount),
    recipient: getAddress(options.recipient ?? request.recipient),
    currency: getAddress(options.currency ?? request.currency),
    chainId: Number(options['chain-id'] ?? request.methodDetails?.chainId),
  }
  if (!Number.isSafeInteger(terms.chainId)) throw new Error('the challenge has no methodDetails.chainId (give --chain-id)')
  const { payload, transactionHash } = await buildPayload({
    type: options.type,
    account,
    rpc: options.rpc,
    terms,
    nonce: options.nonce !== undefined ? Number(options.nonce) : undefined,
    gas: options.gas !== undefined ? BigInt(options.gas) : undefined,
  })
  const credentialObject = {
    challenge: echoOf(params),
    payload,
    ...(!options['no-source'] && { source: `did:pkh:eip155:${terms.chainId}:${account.address}` }),
  }
  const credential = encodeCredential(credentialObject)
  const common = { credential, decodedCredential: decodeCredential(credential), challenge: params, request, transactionHash }
  if (options['credential-only'])
    return { status: first.status, headers: headersObject(first.headers), body: firstBody, receipt: null, ...common }

  const headers = new Headers(init.headers)
  headers.set('authorization', credential)
  const response = await fetch(url, { ...init, headers })
  return {
    status: response.status,
    headers: headersObject(response.headers),
    body: await response.text(),
    receipt: receiptOf(response.headers),
    ...common,
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
    process.stderr.write(`viem-pay.mjs: ${error.message}\nusage: node viem-pay.mjs URL --type transaction|hash --key 0x... --rpc URL [...]\n`)
    process.exit(2)
  }
  try {
    finish(await viemPay(url, options))
  } catch (error) {
    finish({ error: error.message }, 1)
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main()
