/** The node flags the systemd unit and the container image run `serve` with. */
export const PACKAGED_NODE_ARGS = ['--max-semi-space-size=2'];
