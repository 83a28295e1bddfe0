// Ad-hoc runs: one script on one PC, answered synchronously.
import { client } from '../client'
import type { ExecResult, RunRequest } from '../types'

// ---- fetchers ----

/** Runs the script and waits for its result (HTTP 408 when the agent does not answer in time). */
export const runAdhoc = (req: RunRequest): Promise<ExecResult> => client.run(req)
