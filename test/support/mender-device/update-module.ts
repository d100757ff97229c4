import { shQuote } from './shell-quote.js';

/**
 * Source of the harness's protocol-v3 update module. The client calls it as
 * `<module> <State> <work dir>`, with the artifact's payload files already stored in
 * `<work dir>/files/` (the module implements no `Download` state, so the client does the
 * streaming itself). `ArtifactInstall` copies them into the device's installed dir; each
 * file appears atomically (copy to a dot-file, then rename) so a test polling the folder
 * never reads half a file. Every state called is appended to `statesLogPath`, for debugging.
 * While a file `hold-install` exists next to the installed dir, `ArtifactInstall` waits: a test
 * can stop a deployment between download and commit deterministically (see holdInstallPath).
 */
export function updateModuleScript(installedDir: string, statesLogPath: string): string {
  return `#!/bin/sh
# mgw-test-files: update module of the mender-gw test harness (generated).
set -e
STATE="$1"
FILES="$2"
INSTALLED_DIR=${shQuote(installedDir)}
echo "$STATE" >> ${shQuote(statesLogPath)}
case "$STATE" in
  NeedsArtifactReboot) echo No ;;
  SupportsRollback) echo No ;;
  ArtifactInstall)
    while [ -e "$INSTALLED_DIR/../hold-install" ]; do sleep 0.05; done
    mkdir -p "$INSTALLED_DIR"
    for file in "$FILES"/files/*; do
      [ -f "$file" ] || continue
      name=$(basename "$file")
      cp "$file" "$INSTALLED_DIR/.$name.partial"
      mv "$INSTALLED_DIR/.$name.partial" "$INSTALLED_DIR/$name"
    done
    ;;
esac
exit 0
`;
}
