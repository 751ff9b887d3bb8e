export default [
  "packages/*/vitest.config.ts",
  // Every executor test again on the other spawn engine (child_process instead of the native addon).
  {
    extends: "./packages/node/vitest.config.ts",
    root: "./packages/node",
    test: {
      name: "node:child_process",
      env: { EFFECT_COMMAND_SPAWN: "child_process" },
      exclude: [
        "test/torture/**",
        "test/consumer.test.ts",
        "test/docs-examples.test.ts",
        "test/engine.test.ts",
        "test/native-helper.test.ts",
        "test/probe.test.ts"
      ]
    }
  }
]
