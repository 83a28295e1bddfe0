// Precompresses text assets so the Go server can send them gzipped without
// compressing on every request. Output is deterministic (gzip mtime 0), so a
// rebuild of the same sources yields byte-identical files for check-dist.sh.
import { readdirSync, readFileSync, writeFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { gzipSync, constants } from 'node:zlib'

const root = new URL('../dist/', import.meta.url).pathname
const exts = /\.(js|css|html|svg|json|txt|map)$/
let n = 0
function walk(dir) {
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name)
    if (statSync(p).isDirectory()) { walk(p); continue }
    if (!exts.test(name)) continue
    const raw = readFileSync(p)
    if (raw.length < 512) continue
    const gz = gzipSync(raw, { level: constants.Z_BEST_COMPRESSION })
    if (gz.length >= raw.length) continue
    writeFileSync(p + '.gz', gz)
    n++
  }
}
walk(root)
console.log(`gzip-dist: ${n} files precompressed`)
