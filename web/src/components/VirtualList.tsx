// Fixed-height row virtualisation: only the rows in view (plus overscan) are
// in the DOM, so 10 000 agents scroll as smoothly as 50.
import { useEffect, useRef, useState, type ReactNode } from 'react'

export function useVirtual(count: number, rowHeight: number, overscan = 8) {
  const ref = useRef<HTMLDivElement>(null)
  const [range, setRange] = useState({ start: 0, end: 30 })
  useEffect(() => {
    const el = ref.current
    if (!el) return
    let raf = 0
    const update = () => {
      raf = 0
      const start = Math.max(0, Math.floor(el.scrollTop / rowHeight) - overscan)
      const end = Math.min(count, Math.ceil((el.scrollTop + el.clientHeight) / rowHeight) + overscan)
      setRange((r) => (r.start === start && r.end === end ? r : { start, end }))
    }
    const onScroll = () => {
      if (!raf) raf = requestAnimationFrame(update)
    }
    update()
    el.addEventListener('scroll', onScroll, { passive: true })
    const ro = new ResizeObserver(onScroll)
    ro.observe(el)
    return () => {
      el.removeEventListener('scroll', onScroll)
      ro.disconnect()
      if (raf) cancelAnimationFrame(raf)
    }
  }, [count, rowHeight, overscan])
  return { ref, ...range }
}

export function VirtualList({
  count,
  rowHeight,
  renderRow,
  label,
  header,
  className,
}: {
  count: number
  rowHeight: number
  renderRow: (i: number) => ReactNode
  label: string
  header?: ReactNode
  className?: string
}) {
  const { ref, start, end } = useVirtual(count, rowHeight)
  const rows: ReactNode[] = []
  for (let i = start; i < end; i++) rows.push(renderRow(i))
  return (
    <div className={`vlist ${className ?? ''}`} ref={ref} role="table" aria-label={label} aria-rowcount={count + 1} tabIndex={0}>
      {header}
      <div className="vlist-inner" role="rowgroup" style={{ height: count * rowHeight }}>
        <div className="vlist-rows" style={{ transform: `translateY(${start * rowHeight}px)` }}>
          {rows}
        </div>
      </div>
    </div>
  )
}
