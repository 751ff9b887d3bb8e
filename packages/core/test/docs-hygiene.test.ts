/**
 * The docs and the source speak to users about the library as it is: no issue numbers, no
 * design notes or files that are not part of the repository, no "still being written".
 * Scans README.md, docs/, packages/<name>/src and packages/<name>/native and lists every
 * offending file:line.
 */
import * as Fs from "node:fs"
import * as Path from "node:path"

import { describe, expect, it } from "@effect/vitest"

const repoRoot = Path.resolve(import.meta.dirname, "../../..")

interface Rule {
  readonly why: string
  readonly pattern: RegExp
}

/** A hex colour where CSS, SVG or a string would hold one: `color: #333`, `fill="#000000"`. */
const hexColour = /(?:[:=]\s*["']?|["'])#(?:[\da-fA-F]{3,4}|[\da-fA-F]{6}|[\da-fA-F]{8})(?![\w-])/g

const rules: ReadonlyArray<Rule> = [
  // `#12`, `#6's`, `(#4)`; not `#include`, `#the-spawn-engine`, `#1-steps` (an anchor), `&#39;`
  // or an Effect fiber id in a log line (`fiber=#0`, `fiber #12`).
  { why: "cites an issue number", pattern: /(?<![\w&#]|\bfiber[= ])#\d+(?![\w-])/i },
  { why: "cites an issue", pattern: /\bissues?\s+#?\d/i },
  { why: "names a design note that is not part of the repository", pattern: /\bDESIGN\b/ },
  { why: "names a file outside the repository", pattern: /(?<![\w.-])shared\// },
  { why: "says it is still being written", pattern: /still being written/i }
]

/** Every reason a line breaks the rules (empty when it breaks none). */
const offences = (line: string): ReadonlyArray<string> => {
  const text = line.replace(hexColour, "")
  return rules.filter((rule) => rule.pattern.test(text)).map((rule) => rule.why)
}

const scanned = /\.(?:md|ts|mts|mjs|js|c|h)$/

const filesUnder = (dir: string): Array<string> =>
  Fs.existsSync(dir)
    ? Fs.readdirSync(dir, { withFileTypes: true, recursive: true })
      .filter((entry) => entry.isFile() && scanned.test(entry.name))
      .map((entry) => Path.join(entry.parentPath, entry.name))
    : []

const packages = Fs.readdirSync(Path.join(repoRoot, "packages"))

const files = [
  Path.join(repoRoot, "README.md"),
  ...filesUnder(Path.join(repoRoot, "docs")),
  ...packages.flatMap((name) => [
    ...filesUnder(Path.join(repoRoot, "packages", name, "src")),
    ...filesUnder(Path.join(repoRoot, "packages", name, "native"))
  ])
].sort()

describe("docs hygiene", () => {
  it("scans the README, the docs and every package's sources", () => {
    const relative = files.map((file) => Path.relative(repoRoot, file))
    expect(relative).toContain("README.md")
    expect(relative).toContain("docs/errors.md")
    expect(relative).toContain("packages/core/src/Command.ts")
    expect(relative).toContain("packages/node/native/engine.c")
  })

  it("no line cites an issue, a design note or a file outside the repository, or says it is unfinished", () => {
    const found: Array<string> = []
    for (const file of files) {
      Fs.readFileSync(file, "utf8").split("\n").forEach((line, index) => {
        for (const why of offences(line)) {
          found.push(`${Path.relative(repoRoot, file)}:${index + 1}: ${why}: ${line.trim()}`)
        }
      })
    }
    expect(found).toEqual([])
  })

  it("catches each way of citing the project's history", () => {
    const bad = [
      "| #3 | The Node executor |",
      "other failures #4 |",
      "Issue #6's goals are for the library",
      "the timeout combinator that raises it is issue #5.",
      "see issues 12 and 13",
      "the helper (#4; DESIGN §4)",
      "as DESIGN.md says",
      "see /work/shared/STYLE.md",
      "(The texts are the executor's, which is still being written.)",
      "// fixed in #123",
      "{ issue: \"#6\", text: \"W1 spawn+wait\" }"
    ]
    expect(bad.filter((line) => offences(line).length === 0)).toEqual([])
  })

  it("leaves C directives, markdown headings, anchors, hex colours and design prose alone", () => {
    const good = [
      "#include <stdio.h>",
      "#define EC_SETUP_H",
      "#if defined(__linux__)",
      "## The spawn engine",
      "see [getting started](docs/getting-started.md#the-spawn-engine)",
      "see [steps](guides/capabilities.md#1-steps)",
      "color: #333; background: #ffffff; border: #0000ff80",
      "fill=\"#000000\"",
      "&#39;quoted&#39;",
      "Differences that are not design choices",
      "a shared pipe, shared memory, /usr/share/doc",
      "yield* Console.log(`fiber ${n}`) // the issue of timing",
      "timestamp=2026-01-01T00:00:00.000Z level=INFO fiber=#0 message=hello",
      "interrupted by Fiber #12"
    ]
    expect(good.filter((line) => offences(line).length > 0)).toEqual([])
  })
})
