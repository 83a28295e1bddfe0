// The installer (SPEC §13): GET /api/install/{os}?token= answers a script that
// downloads the agent release, installs the service and enrolls with the
// token. The dashboard shows the one-line command for each OS, and asks for
// each script once to tell which release it installs (that consumes nothing).
import { useQuery } from '@tanstack/react-query'
import { client } from '../client'

export type InstallOS = 'linux' | 'darwin' | 'windows'
export const installOSes: InstallOS[] = ['linux', 'darwin', 'windows']

/** The script's URL on this backend (origin: where the dashboard is served from, as the script's server URL is). */
export const installURL = (origin: string, os: InstallOS, token: string) =>
  // encodeURIComponent leaves ' alone; the commands single-quote the URL.
  `${origin}/api/install/${os}?token=${encodeURIComponent(token).replace(/'/g, '%27')}`

/** The one line an operator runs on a new PC, as root / Administrator. */
export function installCommand(origin: string, os: InstallOS, token: string): string {
  const url = installURL(origin, os, token)
  if (os === 'windows') return `powershell -ExecutionPolicy Bypass -Command "iwr -useb '${url}' | iex"`
  return `curl -fsSL '${url}' | sudo sh`
}

/** The release a script installs, read from the script (its baked-in version). */
export const scriptVersion = (script: string) =>
  /^KANADE_VERSION='([^']+)'$/m.exec(script)?.[1] ?? /\$KanadeVersion = '([^']+)'/.exec(script)?.[1] ?? ''

export const installKeys = {
  script: (os: InstallOS, token: string) => ['install-script', os, token],
}

/** Which release the script for os would install with token (errors: no release, token refused). */
export function useInstallVersion(os: InstallOS, token: string) {
  return useQuery({
    queryKey: installKeys.script(os, token),
    queryFn: ({ signal }) => client.installScript(os, { token }, { signal }).then(scriptVersion),
    enabled: token !== '',
    retry: false,
    staleTime: Infinity,
  })
}
