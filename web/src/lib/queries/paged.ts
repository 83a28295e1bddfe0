// Lists loaded by cursor: the first page, then "Load more" (or a virtual
// list reaching its end) appends the next one, following X-Next-Cursor. A
// cursor page costs the server the same at any depth; offsets are only
// served up to 10 000 rows.
import { keepPreviousData, useInfiniteQuery, type QueryKey } from '@tanstack/react-query'
import type { List } from '../types'

export type PagedOpts = { refetchInterval?: number | false; staleTime?: number; enabled?: boolean }

/** What a page shows of a cursor-loaded list. */
export interface Paged<T> {
  rows: T[]
  /** The total of the first page; an estimate when `estimated` (show "about N"). */
  total: number
  estimated: boolean
  hasMore: boolean
  loadingMore: boolean
  more: () => void
  isPending: boolean
  error: Error | null
}

/** A list under queryKey (its filters, not its paging), page by page from fetchPage(cursor). */
export function usePagedList<T>(
  queryKey: QueryKey,
  fetchPage: (cursor: string | undefined, signal: AbortSignal) => Promise<List<T>>,
  opts: PagedOpts = {},
): Paged<T> {
  const q = useInfiniteQuery({
    queryKey,
    queryFn: ({ pageParam, signal }) => fetchPage(pageParam || undefined, signal),
    initialPageParam: '',
    getNextPageParam: (last: List<T>) => last.next || undefined,
    placeholderData: keepPreviousData,
    ...opts,
  })
  const pages = q.data?.pages ?? []
  return {
    rows: pages.flatMap((p) => p.items),
    total: pages[0]?.total ?? 0,
    estimated: pages[0]?.estimated ?? false,
    hasMore: q.hasNextPage,
    loadingMore: q.isFetchingNextPage,
    more: () => {
      if (q.hasNextPage && !q.isFetchingNextPage) void q.fetchNextPage()
    },
    isPending: q.isPending,
    error: q.error,
  }
}
