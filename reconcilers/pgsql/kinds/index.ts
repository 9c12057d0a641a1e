/** The PGSQL module's resource kinds, by name. */
import { patroniDcs } from './patroni-dcs.js';
import { patroniDcsRestart, patroniPause } from './patroni-dcs-client.js';
import { patroniLeader } from './patroni-leader.js';
import { patroniMember } from './patroni-member.js';
import { patroniRestart } from './patroni-restart.js';
import { patroniRetire } from './patroni-retire.js';
import { pgConfFile } from './pg-conf-file.js';
import { pgDatabase } from './pg-database.js';
import { pgRole } from './pg-role.js';
import { pgbackrestStanza } from './pgbackrest-stanza.js';

export const PGSQL_KINDS = {
  'patroni-member': patroniMember,
  'patroni-leader': patroniLeader,
  'patroni-dcs': patroniDcs,
  'patroni-restart': patroniRestart,
  'patroni-pause': patroniPause,
  'patroni-dcs-restart': patroniDcsRestart,
  'patroni-retire': patroniRetire,
  'pg-role': pgRole,
  'pg-database': pgDatabase,
  'pg-conf-file': pgConfFile,
  'pgbackrest-stanza': pgbackrestStanza,
};
