import * as Context from "effect/Context"

import type * as Api from "../CommandExecutor.js"

/** @internal */
export const CommandExecutor = Context.GenericTag<Api.CommandExecutor>("@effect-command/core/CommandExecutor")
