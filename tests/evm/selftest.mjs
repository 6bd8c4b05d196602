// Checks the chain, the token and the payment clients against each other,
// with no mod_mpp involved: a node HTTP server on 127.0.0.1 issues evm/charge
// challenges through mppx's own server API and settles the authorizations
// with transferWithAuthorization from the relayer account.
//
//   node --test tests/evm/selftest.mjs

import assert from 'node:assert/strict'
import { execFile, spawn } from 'node:child_process'
import * as fs from 'node:fs'
import * as http from 'node:http'
import * as net from 'node:net'
import * as os from 'node:os'
import * as path from 'node:path'
import { after, before, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { Errors } from 'mppx'
import { Mppx, evm } from 'mppx/server'
import {
  createPublicClient,
  createWalletClient,
  decodeEventLog,
  encodeFunctionData,
  erc20Abi,
  http as viemHttp,
  keccak256,
  parseSignature,
  parseTransaction,
  recoverTransactionAddress,
  stringToHex,
  toHex,
} from 'viem'
import { mnemonicToAccount, privateKeyToAccount } from 'viem/accounts'
import { DEV_ACCOUNTS, MNEMONIC, localChain, startChain } from './chain.mjs'

const HERE = path.dirname(fileURLToPath(import.meta.url))
const REALM = 'selftest.local'
const PRICE = '0.01' // display units: 10000 base units of a 6-decimal token
const AMOUNT = 10000n

let chain, info, publicClient, relayer, server, baseUrl
const settled = [] // transaction hashes the settle callback submitted

function runNode(script, args) {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [path.join(HERE, script), ...args], { timeout: 60000 }, (error, stdout, stderr) => {
      let document
      try {
        document = JSON.parse(stdout)
      } catch {
        return reject(new Error(`${script} printed no JSON (exit ${error?.code}):\n${stdout}\n${stderr}`))
      }
      resolve({ code: error ? error.code : 0, document, stderr })
    })
  })
}

function balanceOf(address) {
  return publicClient.readContract({ address: info.token, abi: erc20Abi, functionName: 'balanceOf', args: [address] })
}

function transferLogs(receipt) {
  return receipt.logs
    .filter((log) => log.address.toLowerCase() === info.token.toLowerCase())
    .map((log) => decodeEventLog({ abi: chain.abi, ...log }))
    .filter((event) => event.eventName === 'Transfer')
}

function challengeHash(id, realm) {
  return keccak256(stringToHex(`${id}${realm}`))
}

before(async () => {
  chain = await startChain()
  info = chain.info
  const transport = viemHttp(info.rpc, { retryCount: 0 })
  publicClient = createPublicClient({ chain: localChain(info.rpc), transport })
  relayer = createWalletClient({ account: privateKeyToAccount(info.relayer.privateKey), chain: localChain(info.rpc), transport })

  const mppx = Mppx.create({
    secretKey: 'selftest-secret-selftest-secret-selftest',
    realm: REALM,
    methods: [
      evm.charge({
        currency: info.token,
        recipient: info.recipient,
        chainId: info.chainId,
        decimals: info.decimals,
        authorization: { name: info.tokenName, version: info.tokenVersion },
        async settle({ payload }) {
          const hash = await relayer.writeContract({
            address: info.token,
            abi: chain.abi,
            functionName: 'transferWithAuthorization',
            args: [
              payload.from, payload.to, BigInt(payload.value), BigInt(payload.validAfter),
              BigInt(payload.validBefore), payload.nonce, payload.signature,
            ],
            gas: 200000n,
          })
          const receipt = await publicClient.waitForTransactionReceipt({ hash, pollingInterval: 50 })
          // a plain Error would make mppx answer 500 internal-payment-error
          if (receipt.status !== 'success') throw new Errors.VerificationFailedError({ reason: `transferWithAuthorization ${hash} reverted` })
          settled.push(hash)
          return { reference: hash }
        },
      }),
    ],
  })
  const handler = Mppx.toNodeListener(mppx.charge({ amount: PRICE }))
  server = http.createServer(async (req, res) => {
    try {
      const result = await handler(req, res)
      if (result.status === 402) return
      res.setHeader('content-type', 'text/plain')
      res.end('paid content\n')
    } catch (error) {
      res.statusCode = 500
      res.end(String(error))
    }
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  baseUrl = `http://127.0.0.1:${server.address().port}`
})

after(async () => {
  server?.closeAllConnections?.()
  await new Promise((resolve) => (server ? server.close(resolve) : resolve()))
  await chain?.stop()
})

describe('chain', () => {
  test('the dev account table is anvil\'s', async () => {
    const accounts = await publicClient.request({ method: 'eth_accounts' })
    assert.deepEqual(accounts.map((a) => a.toLowerCase()), DEV_ACCOUNTS.map((a) => a.address.toLowerCase()))
    for (const { index, address, privateKey } of DEV_ACCOUNTS.slice(0, 5)) {
      const derived = mnemonicToAccount(MNEMONIC, { addressIndex: index })
      assert.equal(derived.address, address)
      assert.equal(toHex(derived.getHdKey().privateKey), privateKey)
    }
    assert.notEqual(info.relayer.address, info.payer.address)
    assert.equal(info.token, '0x5FbDB2315678afecb367f032d93F642f64180aa3')
    assert.match(info.rpc, /^http:\/\/127\.0\.0\.1:\d+$/)
  })

  test('TestUSDC looks like USDC to an EIP-3009 client', async () => {
    const read = (functionName, args = []) => publicClient.readContract({ address: info.token, abi: chain.abi, functionName, args })
    assert.equal(await read('name'), 'USD Coin')
    assert.equal(await read('version'), '2')
    assert.equal(await read('decimals'), 6)
    assert.equal(await read('TRANSFER_WITH_AUTHORIZATION_TYPEHASH'),
      '0x7c7c6cdb67a18743f49ec6fa9b35f50d52ed05cbed4cc592e13b44501c1a2267')
    const { domain } = await publicClient.getEip712Domain({ address: info.token })
    assert.deepEqual(domain, { name: 'USD Coin', version: '2', chainId: 31337, verifyingContract: info.token, salt: `0x${'0'.repeat(64)}` })
    assert.equal(await read('DOMAIN_SEPARATOR'), info.domainSeparator)
    for (const payer of info.payers) assert.equal(await balanceOf(payer.address), BigInt(info.minted))
    assert.equal(await balanceOf(info.recipient), 0n)
    // both transferWithAuthorization overloads: (…, v, r, s) 0xe3ee160e and (…, bytes) 0xcf092995
    const selectors = chain.abi
      .filter((item) => item.name === 'transferWithAuthorization')
      .map((item) => encodeFunctionData({ abi: [item], args: item.inputs.map((i) => (i.type === 'bytes' ? '0x' : i.type === 'address' ? info.payer.address : i.type === 'bytes32' ? `0x${'0'.repeat(64)}` : 0)) }).slice(0, 10))
    assert.deepEqual(selectors.sort(), ['0xcf092995', '0xe3ee160e'])
    assert.equal(await read('authorizationState', [info.payer.address, `0x${'0'.repeat(64)}`]), false)
  })

  test('mint is for the deployer only', async () => {
    await assert.rejects(
      publicClient.simulateContract({ account: relayer.account, address: info.token, abi: chain.abi, functionName: 'mint', args: [info.relayer.address, 1n] }),
      /caller is not the minter/,
    )
  })
})

describe('pay.mjs (mppx client)', () => {
  test('pays an mppx evm/charge server: 200, receipt, funds moved on chain', async () => {
    const payer = info.payers[0]
    const [before, recipientBefore] = [await balanceOf(payer.address), await balanceOf(info.recipient)]
    const { code, document } = await runNode('pay.mjs', [`${baseUrl}/paid`, '--key', payer.privateKey, '--rpc', info.rpc])
    assert.equal(code, 0, JSON.stringify(document))
    assert.equal(document.status, 200, JSON.stringify(document))
    assert.equal(document.body, 'paid content\n')
    assert.equal(document.receipt.status, 'success')
    assert.equal(document.receipt.method, 'evm')
    assert.equal(document.receipt.reference, settled.at(-1))

    assert.equal(await balanceOf(info.recipient), recipientBefore + AMOUNT)
    assert.equal(await balanceOf(payer.address), before - AMOUNT)
    const receipt = await publicClient.getTransactionReceipt({ hash: document.receipt.reference })
    assert.equal(receipt.from.toLowerCase(), info.relayer.address.toLowerCase())
    const transfers = transferLogs(receipt)
    assert.equal(transfers.length, 1)
    assert.deepEqual(transfers[0].args, { from: payer.address, to: info.recipient, value: AMOUNT })

    // the credential mppx sent
    assert.match(document.credential, /^Payment [A-Za-z0-9_-]+$/)
    const { challenge, payload, source } = document.decodedCredential
    assert.deepEqual(Object.keys(challenge).sort(), ['expires', 'id', 'intent', 'method', 'realm', 'request'])
    assert.equal(challenge.method, 'evm')
    assert.equal(challenge.intent, 'charge')
    assert.equal(challenge.realm, REALM)
    assert.deepEqual(JSON.parse(Buffer.from(challenge.request, 'base64url')), {
      amount: '10000',
      currency: info.token,
      methodDetails: { chainId: 31337, credentialTypes: ['authorization'], decimals: 6 },
      recipient: info.recipient,
    })
    assert.deepEqual(Object.keys(payload).sort(), ['from', 'nonce', 'signature', 'to', 'type', 'validAfter', 'validBefore', 'value'])
    assert.equal(payload.type, 'authorization')
    assert.equal(payload.from, payer.address)
    assert.equal(payload.to, info.recipient)
    assert.equal(payload.value, '10000')
    assert.equal(payload.validAfter, '0')
    assert.equal(payload.validBefore, String(Math.floor(Date.parse(challenge.expires) / 1000)))
    assert.equal(payload.nonce, challengeHash(challenge.id, challenge.realm))
    assert.match(payload.signature, /^0x[0-9a-f]{130}$/)
    assert.equal(source, `did:pkh:eip155:31337:${payer.address}`)
    assert.equal(await publicClient.readContract({
      address: info.token, abi: chain.abi, functionName: 'authorizationState', args: [payer.address, payload.nonce],
    }), true)

    // the same credential again: the token refuses the used nonce, so no second payment
    const replay = await fetch(`${baseUrl}/paid`, { headers: { authorization: document.credential } })
    assert.equal(replay.status, 402)
    assert.match(await replay.text(), /verification-failed/)
    assert.match(replay.headers.get('www-authenticate'), /^Payment /)
    assert.equal(await balanceOf(info.recipient), recipientBefore + AMOUNT)
  })

  test('--credential-only: the authorization settles with transferWithAuthorization(v, r, s), once', async () => {
    const payer = info.payers[1]
    const { code, document } = await runNode('pay.mjs', [`${baseUrl}/paid`, '--key', payer.privateKey, '--rpc', info.rpc, '--credential-only'])
    assert.equal(code, 0, JSON.stringify(document))
    assert.equal(document.status, 402)
    assert.equal(document.receipt, null)
    const { payload } = document.decodedCredential
    const { v, r, s } = parseSignature(payload.signature)
    const args = [payload.from, payload.to, BigInt(payload.value), BigInt(payload.validAfter), BigInt(payload.validBefore), payload.nonce, Number(v), r, s]
    const recipientBefore = await balanceOf(info.recipient)
    const hash = await relayer.writeContract({ address: info.token, abi: chain.abi, functionName: 'transferWithAuthorization', args, gas: 200000n })
    const receipt = await publicClient.waitForTransactionReceipt({ hash, pollingInterval: 50 })
    assert.equal(receipt.status, 'success')
    assert.equal(await balanceOf(info.recipient), recipientBefore + AMOUNT)
    await assert.rejects(
      publicClient.simulateContract({ account: relayer.account, address: info.token, abi: chain.abi, functionName: 'transferWithAuthorization', args }),
      /authorization is used or canceled/,
    )
    const again = await relayer.writeContract({ address: info.token, abi: chain.abi, functionName: 'transferWithAuthorization', args, gas: 200000n })
    assert.equal((await publicClient.waitForTransactionReceipt({ hash: again, pollingInterval: 50 })).status, 'reverted')
    assert.equal(await balanceOf(info.recipient), recipientBefore + AMOUNT)
    // and the server, which has not seen it, now fails to settle it
    const late = await fetch(`${baseUrl}/paid`, { headers: { authorization: document.credential } })
    assert.equal(late.status, 402)
  })

  test('mppx policy refusals come back as {error} with exit 1', async () => {
    const { code, document } = await runNode('pay.mjs', [`${baseUrl}/paid`, '--key', info.payer.privateKey, '--rpc', info.rpc, '--max-amount', '9999'])
    assert.equal(code, 1)
    assert.match(document.error, /maxAtomicAmount/)
  })
})

describe('viem-pay.mjs', () => {
  test('transaction: a signed, unsent EIP-1559 transfer that anyone can broadcast', async () => {
    const payer = info.payers[2]
    const { code, document } = await runNode('viem-pay.mjs', [`${baseUrl}/paid`, '--type', 'transaction', '--key', payer.privateKey, '--rpc', info.rpc, '--credential-only'])
    assert.equal(code, 0, JSON.stringify(document))
    const { challenge, payload, source } = document.decodedCredential
    assert.deepEqual(challenge, document.challenge) // echoed as received
    assert.deepEqual(Object.keys(payload).sort(), ['signature', 'type'])
    assert.equal(payload.type, 'transaction')
    assert.equal(source, `did:pkh:eip155:31337:${payer.address}`)
    assert.match(payload.signature, /^0x02/)
    const tx = parseTransaction(payload.signature)
    assert.equal(tx.type, 'eip1559')
    assert.equal(tx.chainId, 31337)
    assert.equal(tx.to.toLowerCase(), info.token.toLowerCase())
    assert.equal(tx.value ?? 0n, 0n)
    assert.equal(tx.data, encodeFunctionData({ abi: erc20Abi, functionName: 'transfer', args: [info.recipient, AMOUNT] }))
    assert.equal(await recoverTransactionAddress({ serializedTransaction: payload.signature }), payer.address)
    assert.equal(document.transactionHash, keccak256(payload.signature))
    // not broadcast by viem-pay
    assert.equal(await publicClient.getTransaction({ hash: document.transactionHash }).catch(() => null), null)

    const recipientBefore = await balanceOf(info.recipient)
    const hash = await publicClient.request({ method: 'eth_sendRawTransaction', params: [payload.signature] })
    assert.equal(hash, document.transactionHash)
    const receipt = await publicClient.waitForTransactionReceipt({ hash, pollingInterval: 50 })
    assert.equal(receipt.status, 'success')
    assert.deepEqual(transferLogs(receipt)[0].args, { from: payer.address, to: info.recipient, value: AMOUNT })
    assert.equal(await balanceOf(info.recipient), recipientBefore + AMOUNT)
  })

  test('hash: the transfer is mined and the payload names it', async () => {
    const payer = info.payers[3]
    const recipientBefore = await balanceOf(info.recipient)
    const { code, document } = await runNode('viem-pay.mjs', [`${baseUrl}/paid`, '--type', 'hash', '--key', payer.privateKey, '--rpc', info.rpc])
    assert.equal(code, 0, JSON.stringify(document))
    // mppx's server knows only `authorization` payloads
    assert.equal(document.status, 402)
    assert.match(document.body, /invalid-payload/)
    const { payload } = document.decodedCredential
    assert.deepEqual(payload, { type: 'hash', hash: document.transactionHash })
    const receipt = await publicClient.getTransactionReceipt({ hash: payload.hash })
    assert.equal(receipt.status, 'success')
    assert.deepEqual(transferLogs(receipt)[0].args, { from: payer.address, to: info.recipient, value: AMOUNT })
    assert.equal(await balanceOf(info.recipient), recipientBefore + AMOUNT)
  })

  test('--amount and --no-source change only what they say', async () => {
    const payer = info.payers[4]
    const { document } = await runNode('viem-pay.mjs', [`${baseUrl}/paid`, '--type', 'transaction', '--key', payer.privateKey, '--rpc', info.rpc, '--credential-only', '--amount', '1', '--no-source'])
    assert.equal(document.decodedCredential.source, undefined)
    const tx = parseTransaction(document.decodedCredential.payload.signature)
    assert.equal(tx.data, encodeFunctionData({ abi: erc20Abi, functionName: 'transfer', args: [info.recipient, 1n] }))
  })
})

describe('chain.mjs CLI', () => {
  function portOpen(port) {
    return new Promise((resolve) => {
      const socket = net.connect({ host: '127.0.0.1', port }, () => {
        socket.destroy()
        resolve(true)
      })
      socket.on('error', () => resolve(false))
    })
  }

  async function waitFor(predicate, ms) {
    const deadline = Date.now() + ms
    while (!(await predicate())) {
      if (Date.now() > deadline) return false
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    return true
  }

  for (const how of ['stop', 'SIGTERM']) {
    test(`start --state-file, then ${how}`, async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mpp-chain-'))
      const stateFile = path.join(dir, 'chain.json')
      const child = spawn(process.execPath, [path.join(HERE, 'chain.mjs'), 'start', '--state-file', stateFile], { stdio: ['ignore', 'pipe', 'pipe'] })
      const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })))
      let state = null
      try {
        assert.ok(await waitFor(() => fs.existsSync(stateFile), 30000), 'no state file')
        state = JSON.parse(fs.readFileSync(stateFile, 'utf8'))
        assert.equal(state.pid, child.pid)
        assert.equal(state.host, '127.0.0.1')
        const client = createPublicClient({ transport: viemHttp(state.rpc, { retryCount: 0 }) })
        assert.equal(await client.getChainId(), 31337)
        assert.equal(await client.readContract({ address: state.token, abi: erc20Abi, functionName: 'balanceOf', args: [state.payer.address] }), BigInt(state.minted))
        if (how === 'stop') {
          const stop = await new Promise((resolve) =>
            execFile(process.execPath, [path.join(HERE, 'chain.mjs'), 'stop', '--state-file', stateFile], (error) => resolve(error)))
          assert.equal(stop, null)
        } else {
          child.kill('SIGTERM')
        }
        assert.deepEqual(await exited, { code: 0, signal: null })
        assert.equal(fs.existsSync(stateFile), false)
        assert.equal(await portOpen(state.port), false)
        assert.throws(() => process.kill(state.anvilPid, 0), { code: 'ESRCH' })
      } finally {
        if (child.exitCode === null && child.signalCode === null) {
          child.kill('SIGKILL')
          if (state) try { process.kill(state.anvilPid, 'SIGKILL') } catch {}
        }
        fs.rmSync(dir, { recursive: true, force: true })
      }
    })
  }
})
