import { describe, expect, it } from 'vitest'
import { installCommand, scriptVersion } from './install'

describe('install commands', () => {
  const tok = 'kanade-enroll-Ab_c-9'
  it('is one line per OS, the URL quoted', () => {
    expect(installCommand('https://k.example:8443', 'linux', tok)).toBe(`curl -fsSL 'https://k.example:8443/api/install/linux?token=${tok}' | sudo sh`)
    expect(installCommand('https://k.example:8443', 'darwin', tok)).toBe(`curl -fsSL 'https://k.example:8443/api/install/darwin?token=${tok}' | sudo sh`)
    expect(installCommand('http://127.0.0.1:8080', 'windows', tok)).toBe(
      `powershell -ExecutionPolicy Bypass -Command "iwr -useb 'http://127.0.0.1:8080/api/install/windows?token=${tok}' | iex"`,
    )
  })
  it('escapes what a token should never hold', () => {
    expect(installCommand('https://h', 'linux', "x' ; id")).toContain('token=x%27%20%3B%20id')
    expect(installCommand('https://h', 'linux', "x'y").split("'")).toHaveLength(3)
  })
  it('reads the version a script installs', () => {
    expect(scriptVersion("#!/bin/sh\nKANADE_VERSION='1.2.3'\n")).toBe('1.2.3')
    expect(scriptVersion("& {\n\t$KanadeVersion = '2.0.0-rc1'\n")).toBe('2.0.0-rc1')
    expect(scriptVersion('nothing')).toBe('')
  })
})
