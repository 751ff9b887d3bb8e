/** Where an error keeps the previews of its output fields (see previews.ts); no imports, so CommandError can use it. */
export const previewsKey: unique symbol = Symbol.for("@effect-command/core/CommandError/previews") as never

export type Previews = Partial<Record<"stdout" | "stderr" | "output", string>> & {
  readonly stageStderr?: ReadonlyArray<string>
}
