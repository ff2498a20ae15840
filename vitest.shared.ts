import { defineConfig } from "vitest/config";

const conditions = ["source", "module", "node", "import", "default"];

/**
 * Shared by every package's vitest.config.ts. Workspace packages resolve to their TypeScript
 * sources through the `source` export condition, so tests never run against a stale dist/.
 */
export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions } },
  test: {
    include: ["src/**/*.test.ts", "test/**/*.test.ts"],
    testTimeout: 180_000,
    hookTimeout: 180_000,
  },
});
