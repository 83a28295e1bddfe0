// Every module in this folder owns one API resource and has the same four parts:
//
//   1. keys     — the query-key factory (`agentKeys.one(pc)`); the only place a key is spelled.
//   2. fetchers — one function per endpoint, each a call of the generated client
//                 (lib/client.ts over lib/api.gen.ts), which owns paths and methods.
//   3. hooks    — useQuery wrappers (`useAgent(pc, opts)`) that join a key to its fetcher.
//   4. invalidate / patch helpers taking the QueryClient.
//
// Pages and components import from here and never write a path or a key.
// Hand-written paths left here: the SSE stream's URL (events.ts: EventSource is
// not a request the client sends) and the config scopes' addresses, which name
// them in query keys only (config.ts).
import type { QueryKey, UseQueryOptions } from '@tanstack/react-query'

/**
 * What a page may add to a resource's query: refetchInterval, enabled,
 * staleTime, placeholderData… Key and fetch function belong to the module.
 */
export type QueryOpts<T> = Omit<UseQueryOptions<T, Error, T, QueryKey>, 'queryKey' | 'queryFn'>
