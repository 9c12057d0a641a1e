import { describe, expect, it } from 'vitest';
import type { NetworkInterfaceInfo } from 'node:os';
import { controllerOf } from './controller.js';

const nic = (address: string, internal = false): NetworkInterfaceInfo => ({ address, internal, family: address.includes(':') ? 'IPv6' : 'IPv4', netmask: '', mac: '', cidr: null, ...(address.includes(':') ? { scopeid: 0 } : {}) }) as NetworkInterfaceInfo;
const interfaces = { lo: [nic('127.0.0.1', true), nic('::1', true)], eth0: [nic('10.10.10.10'), nic('fe80::1')], eth1: [nic('10.10.20.10')] };

describe('controllerOf', () => {
  it("names the machine's own addresses, not loopback", () => {
    expect(controllerOf({ host: '0.0.0.0', port: 9443 }, interfaces).addresses).toEqual(['10.10.10.10', '10.10.20.10', 'fe80::1']);
  });

  it('a listener on every address or on loopback is scraped through loopback; one on an address there', () => {
    expect(controllerOf({ host: '0.0.0.0', port: 9443 }, interfaces).metrics).toBe('127.0.0.1:9443');
    expect(controllerOf({ host: '127.0.0.1', port: 8080 }, interfaces).metrics).toBe('127.0.0.1:8080');
    expect(controllerOf({ host: '10.10.20.10', port: 9443 }, interfaces).metrics).toBe('10.10.20.10:9443');
    expect(controllerOf({ host: 'fe80::1', port: 9443 }, interfaces).metrics).toBe('[fe80::1]:9443');
  });
});
