import { StrictMode } from 'react'
import { createRoot } from 'react-dom/client'
import { QueryClient, QueryClientProvider } from '@tanstack/react-query'
import { App } from './App'
import { useLanguage } from './i18n'
import { ApiError } from './lib/api'
import './styles.css'

const qc = new QueryClient({
  defaultOptions: {
    queries: {
      staleTime: 10_000,
      gcTime: 5 * 60_000,
      retry: (n, err) => !(err instanceof ApiError && err.status < 500) && n < 2,
      refetchOnWindowFocus: true,
    },
  },
})

// A language switch re-mounts the app so every string and Intl format
// (some are computed once per component) is redone in the new language.
function Root() {
  const lang = useLanguage()
  return <App key={lang} qc={qc} />
}

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <QueryClientProvider client={qc}>
      <Root />
    </QueryClientProvider>
  </StrictMode>,
)
