// Kubernetes name formats (k8s.io/apimachinery/pkg/util/validation), for the validators.
export { isDnsLabel, isDnsSubdomain } from '@skein/protocol';

const DNS_1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const PORT_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** RFC 1035 label: Service names must start with a letter so they are valid DNS names. */
export function isDns1035Label(text: string): boolean {
  return text.length <= 63 && DNS_1035_LABEL.test(text);
}

/**
 * IANA_SVC_NAME, the format of container port names and named targetPorts: at most 15
 * characters, lower-case alphanumerics and '-', at least one letter, no "--".
 */
export function isPortName(text: string): boolean {
  return text.length <= 15 && PORT_NAME.test(text) && /[a-z]/.test(text) && !text.includes('--');
}
