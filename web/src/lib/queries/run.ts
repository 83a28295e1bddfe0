// Ad-hoc runs: one script on one PC, answered synchronously.
import { api } from '../api'
import type { ExecResult, RunRequest } from '../types'

// ---- fetchers ----

/** Runs the script and waits for its result (HTTP 408 when the agent does not answer in time). */
export const runAdhoc = (req: RunRequest) => api<ExecResult>('/api/run', { method: 'POST', body: req })
