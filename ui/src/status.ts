// The engine's state in words (the same text as the tray's tooltip), shown at the top of both
// windows so a pause or a problem is visible wherever the operator looks.
import { ipc, onEngineEvent, onStatusChanged } from "./ipc";

export async function showEngineStatus(line: HTMLElement): Promise<void> {
  const refresh = async () => {
    const s = await ipc.engineStatus();
    line.textContent = s.text;
    line.className = `engine-status ${s.state}`;
  };
  await refresh();
  await onEngineEvent(() => void refresh());
  await onStatusChanged(() => void refresh());
}
