import { defineConfig } from "vite";

// Two pages, each its own window; everything is bundled locally (no remote resources).
export default defineConfig({
  build: {
    outDir: "dist",
    emptyOutDir: true,
    rollupOptions: { input: { settings: "settings.html", history: "history.html" } },
  },
  test: { environment: "jsdom", globals: true },
});
