/** Name of the harness's own update module (installed in every device's `modules/v3/`). */
export const TEST_UPDATE_MODULE = 'mgw-test-files';

export const DEFAULT_DEVICE_TYPE = 'mgw-test-device';

export const DEFAULT_ARTIFACT_NAME = 'initial';

/** Defaults from the field notes: short enough that a full update cycle fits in a test. */
export const DEFAULT_POLL_SECONDS = { update: 5, inventory: 10, retry: 2 } as const;

/** Paths Mender 3.4 reads that no flag or config key moves: each device gets its own via bind mounts. */
export const MENDER_ETC_DIR = '/etc/mender';
export const MENDER_SHARE_DIR = '/usr/share/mender';
export const STOCK_MODULES_DIR = '/usr/share/mender/modules/v3';
