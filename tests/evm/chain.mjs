#!/usr/bin/env node
// A local EVM chain for mod_mpp's tests: anvil on 127.0.0.1 with TestUSDC
// deployed and funded.
//
// As a module:
//   import { startChain } from './chain.mjs'
//   const chain = await startChain()        // chain.info is the JSON description
//   ...
//   await chain.stop()
//
// As a program:
//   node chain.mjs start [--port N] [--state-file F] [--log F]
//       Runs in the foreground. Once the chain is ready it prints the JSON
//       description on one line and (with --state-file) writes it to F. On
//       SIGTERM or SIGINT it stops anvil, removes F and exits 0.
//   node chain.mjs stop --state-file F
//       Signals the `start` process recorded in F and waits until it is gone.
//   node chain.mjs compile
//       Prints TestUSDC's ABI and creation bytecode as JSON.

import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import * as fs from 'node:fs'
import { createRequire } from 'node:module'
import * as net from 'node:net'
import * as path from 'node:path'
import { fileURLToPath } from 'node:url'
import {
  createPublicClient,
  createWalletClient,
  defineChain,
  getAddress,
  getContractAddress,
  hashDomain,
  http,
  parseUnits,
} from 'viem'
import { privateKeyToAccount } from 'viem/accounts'

const HERE = path.dirname(fileURLToPath(import.meta.url))
const require = createRequire(import.meta.url)

export const HOST = '127.0.0.1'
export const CHAIN_ID = 31337
export const MNEMONIC = 'test test test test test test test test test test test junk'

// anvil's dev accounts for MNEMONIC (m/44'/60'/0'/0/i). They are public test
// keys; selftest.mjs checks this table against the derivation and anvil.
export const DEV_ACCOUNTS = [
  ['0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266', '0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80'],
  ['0x70997970C51812dc3A010C7d01b50e0d17dc79C8', '0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d'],
  ['0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC', '0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a'],
  ['0x90F79bf6EB2c4f870365E785982E1f101E93b906', '0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6'],
  ['0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65', '0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a'],
  ['0x9965507D1a55bcC2695C58ba16FB37d819B0A4dc', '0x8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba'],
  ['0x976EA74026E726554dB657fA54763abd0C3a0aa9', '0x92db14e403b83dfe3df233f83dfa3a0d7096f21ca9b0d6d6b8d88b2b4ec1564e'],
  ['0x14dC79964da2C08b23698B3D3cc7Ca32193d9955', '0x4bbbf85ce3377467afe5d46f804f221813b2bb87f24d81f60f1fcdbf7cbf4356'],
  ['0x23618e81E3f5cdF7f54C3d65f7FBc0aBf5B21E8f', '0xdbda1821b80551c9d65939329250298aa3472ba22feea921c0cf5d620ea67b97'],
  ['0xa0Ee7A142d267C1f36714E4a8F75612F20a79720', '0x2a871d0798f97d79848a013d4936a73bf4cc922c825d33c1cf7073dff6d409c6'],
].map(([address, privateKey], index) => ({ index, address, privateKey }))

// Who is who. The deployer's first transaction creates the token, so its
// address is always 0x5FbDB2315678afecb367f032d93F642f64180aa3.
export const ROLES = {
  deployer: 0, // creates and mints the token
  tenantRecipient: 1, // a second payee
  recipient: 2, // the default payee; holds no tokens at start
  relayer: 3, // submits transferWithAuthorization and pays the gas
  payer: 4, // signs payments; funded
}
export const PAYERS = [4, 5, 6, 7, 8, 9] // funded with MINT_AMOUNT each

export const TOKEN = { name: 'USD Coin', version: '2', symbol: 'USDC', decimals: 6 }
export const MINT_AMOUNT = parseUnits('1000000', TOKEN.decimals) // 1,000,000 USDC

const SOURCE = path.join(HERE, 'contracts', 'TestUSDC.sol')
const CACHE_DIR = path.join(HERE, 'node_modules', '.cache', 'mod-mpp-evm')

// ------------------------------------------------------------------ compile

/** Compiles TestUSDC with solc-js (cached by source, compiler and settings). */
export function compileToken() {
  const solc = require('solc')
  const source = fs.readFileSync(SOURCE, 'utf8')
  const input = {
    language: 'Solidity',
    sources: { 'TestUSDC.sol': { content: source } },
    settings: {
      optimizer: { enabled: true, runs: 200 },
      evmVersion: 'cancun',
      outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object'] } },
    },
  }
  const key = createHash('sha256').update(solc.version()).update(JSON.stringify(input)).digest('hex')
  const cached = path.join(CACHE_DIR, `TestUSDC-${key.slice(0, 16)}.json`)
  try {
    return JSON.parse(fs.readFileSync(cached, 'utf8'))
  } catch {}
  const output = JSON.parse(solc.compile(JSON.stringify(input)))
  const errors = (output.errors ?? []).filter((e) => e.severity === 'error')
  if (errors.length) throw new Error('TestUSDC does not compile:\n' + errors.map((e) => e.formattedMessage).join('\n'))
  const contract = output.contracts['TestUSDC.sol'].TestUSDC
  const artefact = { compiler: solc.version(), abi: contract.abi, bytecode: `0x${contract.evm.bytecode.object}` }
  fs.mkdirSync(CACHE_DIR, { recursive: true })
  const tmp = `${cached}.${process.pid}.tmp`
  fs.writeFileSync(tmp, JSON.stringify(artefact))
  fs.renameSync(tmp, cached)
  return artefact
}

// -------------------------------------------------------------------- anvil

/** Path of the anvil binary shipped by @foundry-rs/anvil for this platform. */
export function anvilBinary() {
  const arch = { x64: 'amd64', arm64: 'arm64' }[process.arch]
  const name = process.platform === 'win32' ? 'anvil.exe' : 'anvil'
  const candidates = []
  try {
    candidates.push(require.resolve(`@foundry-rs/anvil-${process.platform}-${arch}/bin/${name}`))
  } catch {}
  // the npm wrapper's fallback location when the platform package was not installed
  candidates.push(path.join(HERE, 'node_modules', '@foundry-rs', 'dist', name))
  const found = candidates.find((p) => fs.existsSync(p))
  if (!found) throw new Error('anvil is not installed: run `npm install --no-audit --no-fund` in tests/evm')
  return found
}

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer()
    server.unref()
    server.on('error', reject)
    server.listen(0, HOST, () => {
      const { port } = server.address()
      server.close(() => resolve(port))
    })
  })
}

async function rpcCall(url, method, params = []) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
    signal: AbortSignal.timeout(2000),
  })
  const body = await response.json()
  if (body.error) throw new Error(`${method}: ${body.error.message}`)
  return body.result
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/** Starts anvil and waits until it answers. Returns { process, port, rpc, stop }. */
async function startAnvil({ port, log, timeoutMs = 30000 }) {
  const args = [
    '--host', HOST,
    '--port', String(port),
    '--chain-id', String(CHAIN_ID),
    '--mnemonic', MNEMONIC,
    '--accounts', String(DEV_ACCOUNTS.length),
    '--balance', '10000',
    // more anvil options, for the benchmark (e.g. --prune-history)
    ...(process.env.MPP_ANVIL_ARGS ?? '').split(' ').filter(Boolean),
  ]
  const logFd = log ? fs.openSync(log, 'a') : null
  const child = spawn(anvilBinary(), args, {
    stdio: ['ignore', logFd ?? 'pipe', logFd ?? 'pipe'],
  })
  if (logFd !== null) fs.closeSync(logFd)
  // keep the tail of anvil's output for error messages (and keep the pipes drained)
  let tail = ''
  const keep = (chunk) => {
    tail = (tail + chunk.toString()).slice(-4000)
  }
  child.stdout?.on('data', keep)
  child.stderr?.on('data', keep)
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })))
  let exitStatus = null
  exited.then((status) => (exitStatus = status))
  const rpc = `http://${HOST}:${port}`

  const stop = async () => {
    if (exitStatus === null) {
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
      await exited
      clearTimeout(timer)
    }
  }

  const deadline = Date.now() + timeoutMs
  while (true) {
    if (exitStatus !== null) {
      const output = log ? fs.readFileSync(log, 'utf8').slice(-4000) : tail
      const error = new Error(`anvil exited (${exitStatus.code ?? exitStatus.signal}) before it was ready:\n${output}`)
      error.addressInUse = /address already in use|os error 98/i.test(output)
      throw error
    }
    try {
      const id = await rpcCall(rpc, 'eth_chainId')
      if (Number(id) !== CHAIN_ID) throw new Error(`unexpected chain id ${id}`)
      break
    } catch (error) {
      if (/unexpected chain id/.test(error.message)) {
        await stop()
        throw error
      }
    }
    if (Date.now() > deadline) {
      await stop()
      throw new Error(`anvil did not answer on ${rpc} within ${timeoutMs} ms:\n${tail}`)
    }
    await sleep(50)
  }
  return { process: child, port, rpc, stop, exited }
}

// -------------------------------------------------------------------- chain

export function localChain(rpc) {
  return defineChain({
    id: CHAIN_ID,
    name: 'anvil',
    nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 },
    rpcUrls: { default: { http: [rpc] } },
  })
}

function keyPair(index) {
  const { address, privateKey } = DEV_ACCOUNTS[index]
  return { address, privateKey }
}

/**
 * Starts anvil on 127.0.0.1 (on `port`, or a free one), deploys TestUSDC from
 * the deployer account and funds the payers. Returns { info, stop, anvil }:
 * `info` is the JSON description; `stop()` ends anvil and waits for it.
 */
export async function startChain({ port, log, attempts = 3 } = {}) {
  const artefact = compileToken()
  let anvil
  for (let attempt = 1; ; attempt++) {
    try {
      anvil = await startAnvil({ port: port ?? (await freePort()), log })
      break
    } catch (error) {
      // a free port can be taken between the probe and anvil's bind
      if (!error.addressInUse || port !== undefined || attempt >= attempts) throw error
    }
  }
  try {
    const chain = localChain(anvil.rpc)
    const transport = http(anvil.rpc, { retryCount: 0 })
    const publicClient = createPublicClient({ chain, transport })
    const deployer = privateKeyToAccount(DEV_ACCOUNTS[ROLES.deployer].privateKey)
    const wallet = createWalletClient({ account: deployer, chain, transport })

    const nonce = await publicClient.getTransactionCount({ address: deployer.address })
    const deployHash = await wallet.deployContract({ abi: artefact.abi, bytecode: artefact.bytecode, nonce })
    const deployReceipt = await publicClient.waitForTransactionReceipt({ hash: deployHash, pollingInterval: 50 })
    if (deployReceipt.status !== 'success') throw new Error('TestUSDC deployment reverted')
    const token = getAddress(deployReceipt.contractAddress)
    if (token.toLowerCase() !== getContractAddress({ from: deployer.address, nonce: BigInt(nonce) }).toLowerCase())
      throw new Error(`TestUSDC deployed at an unexpected address ${token}`)

    let last
    for (const [i, index] of PAYERS.entries()) {
      last = await wallet.writeContract({
        address: token,
        abi: artefact.abi,
        functionName: 'mint',
        args: [DEV_ACCOUNTS[index].address, MINT_AMOUNT],
        nonce: nonce + 1 + i,
        gas: 100000n,
      })
    }
    const mintReceipt = await publicClient.waitForTransactionReceipt({ hash: last, pollingInterval: 50 })
    if (mintReceipt.status !== 'success') throw new Error('minting TestUSDC reverted')
    for (const index of PAYERS) {
      const balance = await publicClient.readContract({
        address: token, abi: artefact.abi, functionName: 'balanceOf', args: [DEV_ACCOUNTS[index].address],
      })
      if (balance !== MINT_AMOUNT) throw new Error(`payer ${index} holds ${balance}, expected ${MINT_AMOUNT}`)
    }
    const domainSeparator = await publicClient.readContract({ address: token, abi: artefact.abi, functionName: 'DOMAIN_SEPARATOR' })
    const expected = hashDomain({
      domain: { name: TOKEN.name, version: TOKEN.version, chainId: CHAIN_ID, verifyingContract: token },
      types: {
        EIP712Domain: [
          { name: 'name', type: 'string' },
          { name: 'version', type: 'string' },
          { name: 'chainId', type: 'uint256' },
          { name: 'verifyingContract', type: 'address' },
        ],
      },
    })
    if (domainSeparator !== expected) throw new Error(`DOMAIN_SEPARATOR ${domainSeparator} is not the EIP-712 one ${expected}`)

    const info = {
      rpc: anvil.rpc,
      host: HOST,
      port: anvil.port,
      chainId: CHAIN_ID,
      token,
      tokenName: TOKEN.name,
      tokenVersion: TOKEN.version,
      tokenSymbol: TOKEN.symbol,
      decimals: TOKEN.decimals,
      domainSeparator,
      deployer: keyPair(ROLES.deployer),
      relayer: keyPair(ROLES.relayer),
      payer: keyPair(ROLES.payer),
      recipient: DEV_ACCOUNTS[ROLES.recipient].address,
      tenantRecipient: DEV_ACCOUNTS[ROLES.tenantRecipient].address,
      payers: PAYERS.map(keyPair),
      minted: MINT_AMOUNT.toString(),
      mnemonic: MNEMONIC,
      pid: process.pid,
      anvilPid: anvil.process.pid,
    }
    return { info, stop: anvil.stop, anvil, abi: artefact.abi }
  } catch (error) {
    await anvil.stop()
    throw error
  }
}

/** Stops a chain returned by startChain. */
export async function stopChain(chain) {
  await chain?.stop()
}

// ---------------------------------------------------------------------- CLI

function parseArgs(argv) {
  const [command, ...rest] = argv
  const options = {}
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i]
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(arg)
    if (!m) throw new Error(`unexpected argument ${arg}`)
    const value = m[2] ?? rest[++i]
    if (value === undefined) throw new Error(`${arg} needs a value`)
    options[m[1]] = value
  }
  return { command, options }
}

function usage() {
  return [
    'usage: node chain.mjs start [--port N] [--state-file F] [--log F]',
    '       node chain.mjs stop --state-file F',
    '       node chain.mjs compile',
  ].join('\n')
}

function writeAtomically(file, text) {
  const tmp = `${file}.${process.pid}.tmp`
  fs.writeFileSync(tmp, text)
  fs.renameSync(tmp, file)
}

async function cliStart(options) {
  for (const key of Object.keys(options))
    if (!['port', 'state-file', 'log'].includes(key)) throw new Error(`unknown option --${key}`)
  const port = options.port !== undefined ? Number(options.port) : undefined
  if (port !== undefined && !(Number.isInteger(port) && port > 0 && port < 65536)) throw new Error(`bad --port ${options.port}`)
  const stateFile = options['state-file'] ? path.resolve(options['state-file']) : null

  let chain = null
  let stopping = false
  const shutdown = async (code) => {
    if (stopping) return
    stopping = true
    try {
      await chain?.stop()
    } finally {
      if (stateFile) fs.rmSync(stateFile, { force: true })
      process.exit(code)
    }
  }
  process.on('SIGTERM', () => shutdown(0))
  process.on('SIGINT', () => shutdown(0))
  process.on('SIGHUP', () => shutdown(0))

  chain = await startChain({ port, log: options.log ? path.resolve(options.log) : undefined })
  if (stopping) return chain.stop()
  chain.anvil.exited.then(({ code, signal }) => {
    if (!stopping) {
      process.stderr.write(`chain.mjs: anvil exited unexpectedly (${code ?? signal})\n`)
      shutdown(1)
    }
  })
  const json = JSON.stringify(chain.info)
  if (stateFile) writeAtomically(stateFile, json + '\n')
  process.stdout.write(json + '\n')
}

function alive(pid) {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return error.code === 'EPERM'
  }
}

async function cliStop(options) {
  const stateFile = options['state-file']
  if (!stateFile) throw new Error('stop needs --state-file')
  let info
  try {
    info = JSON.parse(fs.readFileSync(stateFile, 'utf8'))
  } catch (error) {
    if (error.code === 'ENOENT') return // nothing running
    throw error
  }
  const pids = [info.pid, info.anvilPid].filter((pid) => Number.isInteger(pid) && pid > 0)
  if (alive(info.pid)) process.kill(info.pid, 'SIGTERM')
  const deadline = Date.now() + 10000
  while (pids.some(alive) && Date.now() < deadline) await sleep(50)
  for (const pid of pids.filter(alive)) process.kill(pid, 'SIGKILL')
  fs.rmSync(stateFile, { force: true })
}

async function main(argv) {
  const { command, options } = parseArgs(argv)
  if (command === 'start') return cliStart(options)
  if (command === 'stop') return cliStop(options)
  if (command === 'compile') {
    process.stdout.write(JSON.stringify(compileToken()) + '\n')
    return
  }
  throw new Error(usage())
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).catch((error) => {
    process.stderr.write(`chain.mjs: ${error.message}\n`)
    process.exit(2)
  })
}
