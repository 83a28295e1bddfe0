// Every module in this folder owns one API resource and has the same four parts:
//
//   1. keys     — the query-key factory (`agentKeys.one(pc)`); the only place a key is spelled.
//   2. fetchers — one function per endpoint (path + params); the only code that names an /api path.
//   3. hooks    — useQuery wrappers (`useAgent(pc, opts)`) that join a key to its fetcher.
//   4. invalidate / patch helpers taking the QueryClient.
//
// Pages and components import from here and never write a path or a key.
// To adopt the generated client (lib/api.gen.ts), replace the bodies of the
// fetchers with calls to its functions; keys, hooks and callers stay as they are.
import type { QueryKey, UseQueryOptions } from '@tanstack/react-query'

/**
 * What a page may add to a resource's query: refetchInterval, enabled,
 * staleTime, placeholderData… Key and fetch function belong to the module.
 */
export type QueryOpts<T> = Omit<UseQueryOptions<T, Error, T, QueryKey>, 'queryKey' | 'queryFn'>
