import { defineConfig } from "vitest/config"

export default defineConfig({
  resolve: { conditions: ["source"] },
  // Vitest resolves imports in Vite's SSR environment, which ignores `resolve.conditions`: without
  // this the tests would import the last build in dist/ instead of src/. The other three are
  // Vite's default server conditions, which this list replaces.
  ssr: { resolve: { conditions: ["source", "module", "node", "development|production"] } },
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000
  }
})
