#!/usr/bin/env node
// The reference implementation under the same load as mod_mpp: the mppx
// Proxy (mppx/proxy) in front of the benchmark's upstream, charging with
// mppx's EVM method; EIP-3009 authorizations settled on the local chain by
// a relayer through viem (mppx leaves settlement to the server).
//
//   node mppx-proxy.mjs --port N --upstream URL --rpc URL --token 0x.. \
//        --recipient 0x.. --relayer-key FILE --secret FILE
//
// Routes (under /svc): GET /svc/free (free), GET /svc/paid (0.01 USDC).
import 'urlpattern-polyfill' // Node 20 has no URLPattern
import * as fs from 'node:fs'
import { createServer } from 'node:http'
import { Proxy, Service } from 'mppx/proxy'
import { Mppx } from 'mppx/server'
import { evm } from 'mppx/server'
import { createPublicClient, createWalletClient, defineChain, http, parseSignature } from 'viem'
import { nonceManager, privateKeyToAccount } from 'viem/accounts'

function args(argv) {
  const o = {}
  for (let i = 0; i < argv.length; i += 2) o[argv[i].replace(/^--/, '')] = argv[i + 1]
  for (const k of ['port', 'upstream', 'rpc', 'token', 'recipient', 'relayer-key', 'secret'])
    if (!o[k]) throw new Error(`--${k} is required`)
  return o
}

const TWA_ABI = [{
  type: 'function', name: 'transferWithAuthorization', stateMutability: 'nonpayable', outputs: [],
  inputs: [
    { name: 'from', type: 'address' }, { name: 'to', type: 'address' }, { name: 'value', type: 'uint256' },
    { name: 'validAfter', type: 'uint256' }, { name: 'validBefore', type: 'uint256' },
    { name: 'nonce', type: 'bytes32' }, { name: 'v', type: 'uint8' }, { name: 'r', type: 'bytes32' },
    { name: 's', type: 'bytes32' },
  ],
}]

const o = args(process.argv.slice(2))
const chain = defineChain({
  id: 31337, name: 'anvil', nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 },
  rpcUrls: { default: { http: [o.rpc] } },
})
const transport = http(o.rpc, { retryCount: 0 })
const relayer = privateKeyToAccount(fs.readFileSync(o['relayer-key'], 'utf8').trim(), { nonceManager })
const wallet = createWalletClient({ account: relayer, chain, transport })
const publicClient = createPublicClient({ chain, transport })

// Settlement as a careful mppx deployment does it: simulate (a used nonce or
// a bad signature reverts before gas is spent), send, wait for the receipt.
async function settle({ payload }) {
  const sig = parseSignature(payload.signature)
  const v = sig.v !== undefined ? Number(sig.v) : sig.yParity + 27
  const { request } = await publicClient.simulateContract({
    account: relayer, address: o.token, abi: TWA_ABI, functionName: 'transferWithAuthorization',
    args: [payload.from, payload.to, BigInt(payload.value), BigInt(payload.validAfter),
      BigInt(payload.validBefore), payload.nonce, v, sig.r, sig.s],
  })
  const hash = await wallet.writeContract(request)
  const receipt = await publicClient.waitForTransactionReceipt({ hash, pollingInterval: 100 })
  if (receipt.status !== 'success') throw new Error('settlement reverted')
  return { reference: hash }
}

const mppx = Mppx.create({
  methods: [evm.charge({
    currency: o.token, recipient: o.recipient, chainId: 31337, decimals: 6,
    authorization: { name: 'USD Coin', version: '2' }, settle,
  })],
  secretKey: fs.readFileSync(o.secret, 'utf8').trim(),
  realm: 'bench.test',
})

const proxy = Proxy.create({
  services: [Service.from('svc', {
    baseUrl: o.upstream,
    routes: {
      'GET /free': true,
      'GET /paid': mppx.charge({ amount: '0.01' }),
    },
  })],
})

createServer(proxy.listener).listen(Number(o.port), '127.0.0.1', () => {
  process.stdout.write(`mppx proxy on 127.0.0.1:${o.port}\n`)
})
