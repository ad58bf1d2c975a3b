// The only module that talks to the Rust side. Every type comes from the generated
// bindings (src/bindings, made by ts-rs from the Rust types).

import { Channel, invoke } from '@tauri-apps/api/core';
import { listen, type UnlistenFn } from '@tauri-apps/api/event';
import type { Answer } from '../bindings/Answer';
import type { Applied } from '../bindings/Applied';
import type { DiagnoseProgress } from '../bindings/DiagnoseProgress';
import type { DiagnoseRequest } from '../bindings/DiagnoseRequest';
import type { Report } from '../bindings/Report';
import type { ReportFormat } from '../bindings/ReportFormat';
import type { AttachmentInfo } from '../bindings/AttachmentInfo';
import type { Exported } from '../bindings/Exported';
import type { KeyQuote } from '../bindings/KeyQuote';
import type { LiveInventory } from '../bindings/LiveInventory';
import type { LogLevel } from '../bindings/LogLevel';
import type { LogTail } from '../bindings/LogTail';
import type { OperationEvent } from '../bindings/OperationEvent';
import type { OperationRequest } from '../bindings/OperationRequest';
import type { SealPreview } from '../bindings/SealPreview';
import type { SealView } from '../bindings/SealView';
import type { SettingsView } from '../bindings/SettingsView';
import type { UnlockInfo } from '../bindings/UnlockInfo';

/** The event name of src-tauri's INVENTORY_EVENT. */
const INVENTORY_EVENT = 'inventory-changed';

export const api = {
  inventory: (): Promise<LiveInventory> => invoke('inventory'),

  onInventory: (handler: (live: LiveInventory) => void): Promise<UnlistenFn> =>
    listen<LiveInventory>(INVENTORY_EVENT, (e) => handler(e.payload)),

  exportCertificate: (serial: string, id: string): Promise<Exported> =>
    invoke('export_certificate', { serial, id }),

  activationAvailable: (serial: string): Promise<boolean> =>
    invoke('activation_available', { serial }),

  startOperation: (
    request: OperationRequest,
    onEvent: (event: OperationEvent) => void,
  ): Promise<number> => {
    const events = new Channel<OperationEvent>();
    events.onmessage = onEvent;
    return invoke('start_operation', { request, events });
  },

  answer: (operation: number, question: number, answer: Answer): Promise<void> =>
    invoke('answer', { operation, question, answer }),

  cancelOperation: (operation: number): Promise<void> =>
    invoke('cancel_operation', { operation }),

  unlockInfo: (serial: string): Promise<UnlockInfo> => invoke('unlock_info', { serial }),

  /** Sends a scan (base64) to the key's unlock request waiting for review. */
  unlockAttach: (serial: string, fileName: string, data: string): Promise<AttachmentInfo> =>
    invoke('unlock_attach', { serial, fileName, data }),

  forgetHandler: (): Promise<void> => invoke('forget_handler'),

  renewalQuote: (serial: string): Promise<KeyQuote> => invoke('renewal_quote', { serial }),

  settings: (): Promise<SettingsView> => invoke('settings'),

  saveSettings: (
    serviceUrl: string | null,
    modules: string[],
    reminders: boolean,
    tray: boolean,
    logLevel: LogLevel,
  ): Promise<void> => invoke('save_settings', { serviceUrl, modules, reminders, tray, logLevel }),

  /** The window's language, for the reminders and the tray's menu. */
  setLanguage: (lang: string): Promise<void> => invoke('set_language', { lang }),

  logTail: (): Promise<LogTail> => invoke('log_tail'),

  openLogFolder: (): Promise<void> => invoke('open_log_folder'),

  /** Runs the diagnosis (in a helper process); the report comes back redacted. The
   *  PIN, for the self-test only, is handed over and not kept. */
  diagnoseRun: (
    request: DiagnoseRequest,
    pin: string | null,
    onProgress: (p: DiagnoseProgress) => void,
  ): Promise<Report> => {
    const events = new Channel<DiagnoseProgress>();
    events.onmessage = onProgress;
    return invoke('diagnose_run', { request, pin, events });
  },

  /** Saves the last report into Downloads; personal data only when `personal`. */
  diagnoseExport: (format: ReportFormat, personal: boolean, lang: string): Promise<Exported> =>
    invoke('diagnose_export', { format, personal, lang }),

  /** Applies the fix offered with finding `index` of the last report. */
  diagnoseFix: (index: number): Promise<Applied> => invoke('diagnose_fix', { index }),

  sealPreview: (
    serial: string,
    certId: string,
    image: string,
    name: string | null,
    widthMm: number | null,
    heightMm: number | null,
  ): Promise<SealPreview> =>
    invoke('seal_preview', { serial, certId, image, name, widthMm, heightMm }),

  sealShow: (serial: string): Promise<SealView[]> => invoke('seal_show', { serial }),

  sealExport: (serial: string, certId: string): Promise<Exported> =>
    invoke('seal_export', { serial, certId }),
};
