export function platformTag(): string;
export function platformPackageName(): string;
export const ADDON_FILE: string;
