// Schedules: when a job runs on its own.
import { useQuery, type QueryClient } from '@tanstack/react-query'
import { api, enc } from '../api'
import type { Schedule, SchedulePreview } from '../types'
import type { QueryOpts } from './options'

export const scheduleKeys = {
  all: () => ['schedules'],
  one: (id: string) => ['schedule', id],
  preview: (id: string) => ['preview', id],
}

// ---- fetchers ----

export const listSchedules = () => api<Schedule[]>('/api/schedules')
export const getSchedule = (id: string) => api<Schedule>(`/api/schedules/${enc(id)}`)
/** Creates or replaces a schedule from its YAML document. */
export const saveSchedule = (yaml: string) => api('/api/schedules', { method: 'POST', body: yaml, contentType: 'application/yaml' })
export const deleteSchedule = (id: string) => api(`/api/schedules/${enc(id)}`, { method: 'DELETE' })
export const setScheduleEnabled = (id: string, on: boolean) => api(`/api/schedules/${enc(id)}/${on ? 'enable' : 'disable'}`, { method: 'POST' })
export const previewSchedule = (id: string, count: number) => api<SchedulePreview>(`/api/schedules/${enc(id)}/preview?count=${count}`)

// ---- hooks ----

export function useSchedules(opts?: QueryOpts<Schedule[]>) {
  return useQuery({ queryKey: scheduleKeys.all(), queryFn: listSchedules, ...opts })
}

/** The stored document of s (comments included, when the server kept it); s itself if it cannot be read. */
export function useScheduleDoc(s: Schedule, opts?: QueryOpts<Schedule>) {
  return useQuery({ queryKey: scheduleKeys.one(s.id), queryFn: () => getSchedule(s.id).catch(() => s), ...opts })
}

export function useSchedulePreview(id: string, count: number, opts?: QueryOpts<SchedulePreview>) {
  return useQuery({ queryKey: scheduleKeys.preview(id), queryFn: () => previewSchedule(id, count), ...opts })
}

// ---- invalidation ----

export const invalidateSchedules = (qc: QueryClient) => qc.invalidateQueries({ queryKey: scheduleKeys.all() })
