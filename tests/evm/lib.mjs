// Helpers shared by pay.mjs and viem-pay.mjs: option parsing, the wire
// encodings of the Payment scheme, and token metadata read over RPC.

import { createPublicClient, getAddress, http } from 'viem'
import { localChain } from './chain.mjs'

/**
 * Parses `argv` against `spec` ({name: 'string' | 'boolean' | 'list'}).
 * Returns { positional: [...], options: {...} }; option names keep their
 * dashes. `--name=value` and `--name value` both work.
 */
export function parseArgs(argv, spec) {
  const positional = []
  const options = {}
  for (const [name, kind] of Object.entries(spec)) if (kind === 'list') options[name] = []
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    if (!arg.startsWith('--')) {
      positional.push(arg)
      continue
    }
    const eq = arg.indexOf('=')
    const name = arg.slice(2, eq < 0 ? undefined : eq)
    const kind = spec[name]
    if (!kind) throw new Error(`unknown option --${name}`)
    if (kind === 'boolean') {
      if (eq >= 0) throw new Error(`--${name} takes no value`)
      options[name] = true
      continue
    }
    const value = eq >= 0 ? arg.slice(eq + 1) : argv[++i]
    if (value === undefined) throw new Error(`--${name} needs a value`)
    if (kind === 'list') options[name].push(value)
    else options[name] = value
  }
  return { positional, options }
}

/** Request headers from repeated `--header "Name: value"` options. */
export function headerPairs(list) {
  return list.map((line) => {
    const colon = line.indexOf(':')
    if (colon <= 0) throw new Error(`bad --header ${JSON.stringify(line)}: expected "Name: value"`)
    return [line.slice(0, colon).trim(), line.slice(colon + 1).trim()]
  })
}

export function b64urlEncode(text) {
  return Buffer.from(text, 'utf8').toString('base64url')
}

export function b64urlDecodeJson(text) {
  return JSON.parse(Buffer.from(text, 'base64url').toString('utf8'))
}

/** The JSON inside an `Authorization: Payment <b64url>` value. */
export function decodeCredential(header) {
  const m = /^Payment\s+([A-Za-z0-9_=+/-]+)\s*$/i.exec(header ?? '')
  if (!m) throw new Error(`not a Payment credential: ${String(header).slice(0, 60)}`)
  return b64urlDecodeJson(m[1])
}

/** The Authorization value for a credential object. */
export function encodeCredential(credential) {
  return `Payment ${b64urlEncode(JSON.stringify(credential))}`
}

/** Decoded Payment-Receipt of a response, or null. */
export function receiptOf(headers) {
  const value = headers.get('payment-receipt')
  if (!value) return null
  try {
    return b64urlDecodeJson(value.trim())
  } catch (error) {
    return { undecodable: value, error: error.message }
  }
}

/** Response headers as a plain object (repeated fields joined by ", "). */
export function headersObject(headers) {
  return Object.fromEntries(headers.entries())
}

/**
 * Splits a WWW-Authenticate value into challenges: [{scheme, params}], with
 * parameter values exactly as sent (after quoted-string unescaping, with
 * the \uXXXX extension). Parameter names are lower-cased.
 */
export function parseChallenges(value) {
  const out = []
  let i = 0
  let current = null
  const n = value.length
  const token = /[!#$%&'*+\-.^_`|~0-9A-Za-z]+/y
  const skip = (chars) => {
    while (i < n && chars.includes(value[i])) i++
  }
  while (true) {
    skip(' \t,')
    if (i >= n) break
    token.lastIndex = i
    const m = token.exec(value)
    if (!m) throw new Error(`bad WWW-Authenticate at ${i}: ${value.slice(i, i + 20)}`)
    let j = i + m[0].length
    let k = j
    while (k < n && ' \t'.includes(value[k])) k++
    if (current && value[k] === '=' && value[k + 1] !== '=') {
      k++
      while (k < n && ' \t'.includes(value[k])) k++
      let v
      if (value[k] === '"') {
        k++
        v = ''
        while (true) {
          if (k >= n) throw new Error('unterminated quoted-string in WWW-Authenticate')
          const c = value[k]
          if (c === '"') {
            k++
            break
          }
          if (c === '\\') {
            const hex = value.slice(k + 2, k + 6)
            if (value[k + 1] === 'u' && /^[0-9A-Fa-f]{4}$/.test(hex)) {
              v += String.fromCharCode(parseInt(hex, 16))
              k += 6
            } else {
              v += value[k + 1] ?? ''
              k += 2
            }
            continue
          }
          v += c
          k++
        }
      } else {
        token.lastIndex = k
        const t = token.exec(value)
        if (!t) throw new Error(`bad parameter value at ${k}`)
        v = t[0]
        k += t[0].length
      }
      current.params[m[0].toLowerCase()] = v
      i = k
    } else {
      // a token68 (e.g. Basic credentials) or a new scheme
      if (current && value[k] === '=') {
        while (k < n && value[k] === '=') k++
        i = k
        continue
      }
      current = { scheme: m[0], params: {} }
      out.push(current)
      i = j
    }
  }
  return out
}

/** The echo a credential carries: the challenge's parameters as sent. */
export const ECHO_FIELDS = ['id', 'realm', 'method', 'intent', 'request', 'description', 'digest', 'expires', 'opaque']

export function echoOf(params) {
  const echo = {}
  for (const field of ECHO_FIELDS) if (params[field] !== undefined) echo[field] = params[field]
  return echo
}

export function publicClientFor(rpc) {
  return createPublicClient({ chain: localChain(rpc), transport: http(rpc, { retryCount: 0 }) })
}

const nameVersionAbi = [
  { type: 'function', name: 'name', stateMutability: 'view', inputs: [], outputs: [{ type: 'string' }] },
  { type: 'function', name: 'version', stateMutability: 'view', inputs: [], outputs: [{ type: 'string' }] },
]

/**
 * The EIP-712 name and version of the token at `address`: EIP-5267
 * eip712Domain() when the token has it, else name() and version().
 */
export async function tokenDomain(client, address) {
  try {
    const { domain } = await client.getEip712Domain({ address: getAddress(address) })
    if (domain.name && domain.version) return { name: domain.name, version: domain.version }
  } catch {}
  const [name, version] = await Promise.all(
    ['name', 'version'].map((functionName) =>
      client.readContract({ address: getAddress(address), abi: nameVersionAbi, functionName })),
  )
  return { name, version }
}

/** Prints a JSON document on stdout and ends the process with `code`. */
export function finish(document, code = 0) {
  process.stdout.write(JSON.stringify(document, (_, v) => (typeof v === 'bigint' ? v.toString() : v), 2) + '\n', () =>
    process.exit(code))
}
