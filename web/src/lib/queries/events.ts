// The server-sent event stream (lib/live.tsx turns its events into invalidations).

/** The stream's URL; EventSource cannot send headers, so the token rides in the query. */
export const eventsURL = (token: string) => '/api/events' + (token ? `?access_token=${encodeURIComponent(token)}` : '')
