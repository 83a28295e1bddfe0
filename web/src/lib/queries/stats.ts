// Fleet history for the dashboard charts (GET /api/stats/...).
import { useQuery } from '@tanstack/react-query'
import { client } from '../client'
import type { AgentsOnline, ExecStats } from '../types'
import type { QueryOpts } from './options'

export const statsKeys = {
  executions: (days: number) => ['stats', 'executions', days],
  online: (hours: number) => ['stats', 'agents-online', hours],
}

export function useExecutionStats(days: number, opts?: QueryOpts<ExecStats>) {
  return useQuery({ queryKey: statsKeys.executions(days), queryFn: ({ signal }) => client.executionStats({ days }, { signal }), ...opts })
}

export function useAgentsOnlineStats(hours: number, opts?: QueryOpts<AgentsOnline>) {
  return useQuery({ queryKey: statsKeys.online(hours), queryFn: ({ signal }) => client.agentsOnlineStats({ hours }, { signal }), ...opts })
}
