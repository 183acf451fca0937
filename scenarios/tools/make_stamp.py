#!/usr/bin/env python3
"""Writes a healthy Azure Stack Hub stamp as a scenario file (format: ../README.md, version 1).

    python3 scenarios/tools/make_stamp.py > scenarios/default.toml          # the default stamp
    python3 scenarios/tools/make_stamp.py --hosts 16 --tenant-vms 200 --rings 5 --replicas 2000 \
        --name large > /tmp/large.toml                                      # the benchmark stamp

`scenarios/default.toml` is this script's output with no arguments: change the script, then
regenerate, rather than editing the file by hand. Output is deterministic.
"""
import argparse
import json
import uuid

NS = uuid.UUID("6f1c2a9e-0000-4000-8000-00000000a25d")


def gid(*parts):
    return str(uuid.uuid5(NS, "/".join(str(p) for p in parts)))


def q(s):
    return json.dumps(s)  # TOML basic strings accept JSON string escapes


def block(s):
    return "'''\n" + s.strip("\n") + "\n'''"


VM_ROLES = [  # prefix, count, role, services
    ("ERCS", 3, "ERCS", [("WinRM", "Windows Remote Management (WS-Management)"), ("PrivilegedEndpoint", "Azure Stack Privileged Endpoint")]),
    ("ACS", 3, "ACS", [("ACSBlobSvc", "Azure Consistent Storage Blob Service"), ("ACSTableSvc", "Azure Consistent Storage Table Service"), ("ACSFrontEnd", "Azure Consistent Storage Front End")]),
    ("ADFS", 2, "ADFS", [("adfssrv", "Active Directory Federation Services")]),
    ("CA", 1, "CA", [("CertSvc", "Active Directory Certificate Services")]),
    ("DC", 3, "Domain", [("NTDS", "Active Directory Domain Services"), ("DNS", "DNS Server")]),
    ("GWY", 2, "Gateway", [("RemoteAccess", "Routing and Remote Access"), ("GatewayService", "Azure Stack Gateway Service")]),
    ("NC", 3, "NC", [("NetworkController", "Network Controller")]),
    ("SLB", 2, "SLB", [("SlbMux", "Software Load Balancer Multiplexer")]),
    ("SQL", 2, "SQL", [("MSSQLSERVER", "SQL Server (MSSQLSERVER)"), ("SQLSERVERAGENT", "SQL Server Agent (MSSQLSERVER)")]),
    ("SRNG", 1, "SeedRingServices", [("FabricHostSvc", "Service Fabric Host Service")]),
    ("WAS", 2, "WAS", [("W3SVC", "World Wide Web Publishing Service")]),
    ("WASP", 2, "WASPUBLIC", [("W3SVC", "World Wide Web Publishing Service")]),
    ("XRP", 3, "FabricRing", [("FabricHostSvc", "Service Fabric Host Service")]),
]
COMMON_SERVICES = [("EventLog", "Windows Event Log"), ("Winmgmt", "Windows Management Instrumentation"),
                   ("W32Time", "Windows Time"), ("LanmanServer", "Server"), ("Dnscache", "DNS Client")]
HOST_SERVICES = [("vmms", "Hyper-V Virtual Machine Management"), ("ClusSvc", "Cluster Service"),
                 ("WinRM", "Windows Remote Management (WS-Management)"), ("HealthService", "Microsoft Monitoring Agent")]
RING_APPS = {
    "FabricRing": [("AzureStack.Compute", ["ComputeController", "DiskRP"]),
                   ("AzureStack.Network", ["NetworkResourceProvider"]),
                   ("AzureStack.Storage", ["StorageResourceProvider"]),
                   ("AzureStack.KeyVault", ["KeyVaultControlPlane"]),
                   ("AzureStack.Health", ["HealthResourceProvider"])],
    "SeedRing": [("AzureStack.ECE", ["ECEService"]),
                 ("AzureStack.SupportBridge", ["SupportBridgeController"])],
}
OWNING_TEAMS = {"ERCS": "PEP and Support", "ACS": "Storage", "ADFS": "Identity", "CA": "Identity", "Domain": "Identity",
                "Gateway": "Networking", "NC": "Networking", "SLB": "Networking", "SQL": "Infrastructure Services",
                "SeedRingServices": "Deployment (ECE)", "WAS": "Portal and ARM", "WASPUBLIC": "Portal and ARM",
                "FabricRing": "Fabric (Service Fabric)", "BareMetal": "Hardware and Host", "Storage": "Storage"}


def emit_node(lines, kind, fields, services, processes, disks, files):
    lines.append(f"[[{kind}]]")
    for k, v in fields:
        lines.append(f"{k} = {v}")
    lines.append("event_source = \"windows-cbs\"\n")
    for drive, label, size, free in disks:
        lines.append(f"[[{kind}.disk]]\ndrive = {q(drive)}\nlabel = {q(label)}\nsize_gb = {size:.1f}\nfree_gb = {free:.1f}\n")
    for name, display in services:
        lines.append(f"[[{kind}.service]]\nname = {q(name)}\ndisplay_name = {q(display)}\nstate = \"Running\"\nstart_type = \"Automatic\"\n")
    for name, pid, cpu, ws, handles, svc in processes:
        lines.append(f"[[{kind}.process]]\nname = {q(name)}\nid = {pid}\ncpu_seconds = {cpu:.1f}\nworking_set_mb = {ws:.1f}\nhandles = {handles}\nservice = {q(svc)}\n")
    for path, size in files:
        lines.append(f"[[{kind}.file]]\npath = {q(path)}\nsize_bytes = {size}\nmodified = 2026-11-20T06:00:00Z\n")


def processes_for(services, seed):
    base = [("System", 4, 9000.0 + seed, 0.1, 3000, ""), ("smss", 348, 0.3, 1.2, 53, ""), ("csrss", 512, 40.0, 5.0, 600, ""),
            ("wininit", 596, 0.5, 6.0, 170, ""), ("services", 676, 120.0, 11.0, 900, ""), ("lsass", 700, 310.0 + seed, 38.0, 1800, "")]
    pid = 1200 + seed * 10
    for name, _ in services:
        image = {"MSSQLSERVER": "sqlservr", "SQLSERVERAGENT": "SQLAGENT", "vmms": "vmms", "ClusSvc": "clussvc",
                 "W3SVC": "w3wp", "NTDS": "lsass", "FabricHostSvc": "FabricHost", "NetworkController": "sdnctlr",
                 "adfssrv": "Microsoft.IdentityServer.ServiceHost"}.get(name, "svchost")
        if image == "lsass":
            continue
        pid += 4
        base.append((image, pid, 50.0 + (pid % 97), 20.0 + (pid % 300), 300 + pid % 700, name))
    return base


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--hosts", type=int, default=4)
    ap.add_argument("--tenant-vms", type=int, default=6)
    ap.add_argument("--rings", type=int, default=2)
    ap.add_argument("--replicas", type=int, default=0, help="total replicas; 0: 3 per service")
    ap.add_argument("--name", default="default")
    a = ap.parse_args()

    L = []
    L.append("# Generated by scenarios/tools/make_stamp.py: regenerate rather than edit by hand.")
    L.append("# Format: scenarios/README.md (version 1).")
    L.append("version = 1")
    L.append(f"name = {q(a.name)}")
    L.append(q(f"Healthy {a.hosts}-node Azure Stack Hub stamp: every host up, every infrastructure VM running, storage, fabric rings and deployment engine healthy.").join(["description = ", ""]))
    L.append("""
[stamp]
prefix = "AZS"
region_name = "local"
domain_fqdn = "azurestack.local"
external_domain_fqdn = "local.azurestack.external"
deployment_id = "5c2a1f9e-3b7d-4e8a-9f10-2d6c8b4a7e31"
cloud_id = "b8e4c2d1-6f3a-4b9e-8c7d-1a2f3e4d5c6b"
version = "1.2408.1.50"
oem_version = "2.3.2408.1"
services_version = "1.2408.1.50"
pep_node = "AZS-ERCS01"
""")
    hosts = [f"AZS-HOST{i:02d}" for i in range(1, a.hosts + 1)]
    for i, h in enumerate(hosts):
        svcs = COMMON_SERVICES + HOST_SERVICES
        emit_node(L, "host", [("name", q(h)), ("role", q("BareMetal")), ("state", q("Up")),
                              ("manufacturer", q("Dell Inc.")), ("model", q("PowerEdge R650")),
                              ("serial_number", q(f"SRV7K2Q{i + 3}")), ("boot_time", f"2026-10-{12 + i % 15:02d}T0{3 + i % 6}:1{i % 6}:00Z"),
                              ("cpu_cores", "64"), ("memory_gb", "768"), ("cpu_percent", f"{18 + i * 3 % 11}.0"), ("memory_percent", f"{41 + i * 5 % 13}.0")],
                  svcs, processes_for(svcs, i), [("C:", "OS", 446.0, 281.5 - i * 7)],
                  [(r"C:\MASLogs\HostDeploy.log", 4_194_304 + i * 1000), (r"C:\ClusterStorage\Infrastructure_1\Shares\SU1_Infrastructure_1\Updates\Package.zip", 3_221_225_472)])
    vms = []
    k = 0
    for prefix, count, role, svcs in VM_ROLES:
        for j in range(1, count + 1):
            name = f"AZS-{prefix}{j:02d}"
            host = hosts[k % len(hosts)]
            k += 1
            vms.append((name, role, host))
            all_svcs = COMMON_SERVICES + svcs
            emit_node(L, "vm", [("name", q(name)), ("role", q(role)), ("host", q(host)), ("state", q("Running")),
                                ("model", q("Virtual Machine (Generation 2)")), ("boot_time", f"2026-11-0{1 + k % 8}T02:{k % 60:02d}:00Z"),
                                ("cpu_cores", "4" if role not in ("SQL", "FabricRing") else "8"),
                                ("memory_gb", "8" if role not in ("SQL", "FabricRing") else "32"),
                                ("cpu_percent", f"{5 + k % 23}.0"), ("memory_percent", f"{35 + k % 30}.0")],
                      all_svcs, processes_for(all_svcs, k), [("C:", "OS", 127.0, 61.0 - (k % 9)), ("D:", "Data", 200.0, 140.0 - (k % 17))],
                      [(rf"C:\MASLogs\{role}Deploy.log", 1_048_576 + k * 4096), (r"C:\Windows\Temp\CBS.log", 52_428_800 + k * 1024)])

    L.append('[cluster]\nname = "s-cluster"\n')
    for g, owner in [("Cluster Group", hosts[0]), ("Available Storage", hosts[1 % len(hosts)]), ("SU1FileServer", hosts[2 % len(hosts)])]:
        L.append(f"[[cluster.group]]\nname = {q(g)}\nowner = {q(owner)}\nstate = \"Online\"\n")
    for r, t, g in [("Cluster IP Address", "IP Address", "Cluster Group"), ("Cluster Name", "Network Name", "Cluster Group"),
                    ("File Share Witness", "File Share Witness", "Cluster Group"), ("Health", "Health Service", "Cluster Group"),
                    ("Storage Qos Resource", "Storage QoS Policy Manager", "Cluster Group"),
                    ("Cluster Pool 1", "Storage Pool", "Available Storage"),
                    ("Scale-Out File Server (SU1FileServer)", "Scale Out File Server", "SU1FileServer"),
                    ("SU1FileServer", "Distributed Network Name", "SU1FileServer")]:
        L.append(f"[[cluster.resource]]\nname = {q(r)}\ntype = {q(t)}\ngroup = {q(g)}\nstate = \"Online\"\n")
    vdisks = [("Infrastructure_1", 2048), ("Infrastructure_2", 2048), ("Infrastructure_3", 2048), ("VmTemp_1", 1024), ("ObjStore_1", 8192), ("ObjStore_2", 8192)]
    for i, (vd, size) in enumerate(vdisks):
        csv_path = "C:\\ClusterStorage\\" + vd
        L.append(f"[[cluster.csv]]\nname = {q(f'Cluster Virtual Disk ({vd})')}\nvirtual_disk = {q(vd)}\nowner = {q(hosts[i % len(hosts)])}\nstate = \"Online\"\npath = {q(csv_path)}\nsize_gb = {size:.1f}\nfree_gb = {size * (0.55 - i * 0.03):.1f}\n")

    L.append("[storage]\nhealth_cache_stale = false\n")
    cap = len(hosts) * 4 * 3840.0
    L.append(f"[storage.pool]\nname = \"SU1_Pool\"\nhealth = \"Healthy\"\noperational_status = \"OK\"\nsize_gb = {cap:.1f}\nallocated_gb = {sum(s for _, s in vdisks) * 2:.1f}\n")
    for hi, h in enumerate(hosts):
        for d in range(6):
            journal = d < 2
            L.append(f"[[storage.physical_disk]]\nserial = {q(f'S4{hi:02d}NX0R{d:04d}')}\nfriendly_name = {q('Dell Express Flash NVMe P4610' if journal else 'SAMSUNG MZILT3T8HBLS')}\nnode = {q(h)}\nmedia_type = {q('NVMe' if journal else 'SSD')}\nusage = {q('Journal' if journal else 'Auto-Select')}\nsize_gb = {1600.0 if journal else 3840.0}\nhealth = \"Healthy\"\noperational_status = \"OK\"\n")
        L.append(f"[[storage.enclosure]]\nname = {q(f'Dell BOSS-S1 ({h})')}\nnode = {q(h)}\nhealth = \"Healthy\"\nslots = 8\n")
    for vd, size in vdisks:
        L.append(f"[[storage.virtual_disk]]\nname = {q(vd)}\nhealth = \"Healthy\"\noperational_status = \"OK\"\nresiliency = \"Mirror\"\nsize_gb = {size:.1f}\nfootprint_gb = {size * 3:.1f}\n")
    for i in (1, 2):
        vol_path = f"C:\\ClusterStorage\\ObjStore_{i}"
        L.append(f"[[storage.volume]]\nname = {q(f'ObjStore_{i}')}\npath = {q(vol_path)}\nsize_gb = 8192.0\nused_gb = {3300.0 + i * 250:.1f}\nhealth = \"Healthy\"\n")
    sub = "7c0e5a1b-2f4d-4c3a-9b8e-6d1f2a3b4c5d"
    for i, acct in enumerate(["contosodiag01", "contosoweb01", "fabrikamlogs"]):
        L.append(f"[[storage.account]]\nname = {q(acct)}\nsubscription = {q(sub)}\nresource_group = {q('rg-app' if i < 2 else 'rg-logs')}\nkind = \"StorageV2\"\nstate = \"Online\"\nlocation = \"local\"\nused_bytes = {12_884_901_888 * (i + 1)}\n")

    # Service Fabric rings.
    ring_names = ["FabricRing", "SeedRing", "ACSRing", "NetworkRing", "HealthRing", "KeyVaultRing", "PortalRing"][: a.rings]
    ring_nodes = {"FabricRing": [v for v, r, _ in vms if r == "FabricRing"], "SeedRing": [v for v, r, _ in vms if r == "ERCS"]}
    other = [v for v, r, _ in vms if r not in ("FabricRing", "ERCS")]
    for idx, rn in enumerate(ring_names):
        if rn not in ring_nodes:
            ring_nodes[rn] = [other[(idx * 3 + j) % len(other)] for j in range(3)]
    services_per_ring = {rn: [(app, s) for app, ss in RING_APPS.get(rn, [(rn.replace("Ring", "") + "Services", ["Controller", "Worker"])]) for s in ss] for rn in ring_names}
    total_services = sum(len(v) for v in services_per_ring.values())
    per_service = 3
    extra_parts = 0
    if a.replicas:
        per_service = max(3, a.replicas // total_services)
    runtime = "7.2.457.9590"
    for rn in ring_names:
        nodes = ring_nodes[rn]
        L.append(f"[[ring]]\nname = {q(rn)}\nruntime_version = {q(runtime)}\nhealth = \"Ok\"")
        L.append("configuration = " + block(json.dumps({"name": rn, "clusterConfigurationVersion": "1.0.0", "apiVersion": "10-2017",
                                                         "nodes": [{"nodeName": n, "nodeTypeRef": "InfraVM", "upgradeDomain": f"UD{i % 3}", "faultDomain": f"fd:/{n}"} for i, n in enumerate(nodes)],
                                                         "properties": {"reliabilityLevel": "Bronze", "fabricSettings": [{"name": "Setup", "parameters": [{"name": "FabricDataRoot", "value": "C:\\ProgramData\\SF"}]}]}}, indent=2)))
        L.append("manifest = " + block(f'<ClusterManifest xmlns="http://schemas.microsoft.com/2011/01/fabric" Name="{rn}" Version="1.0.0">\n  <NodeTypes><NodeType Name="InfraVM" /></NodeTypes>\n  <Infrastructure><WindowsServer IsScaleMin="false" /></Infrastructure>\n  <FabricSettings><Section Name="Setup"><Parameter Name="FabricDataRoot" Value="C:\\ProgramData\\SF" /></Section></FabricSettings>\n</ClusterManifest>'))
        L.append(f"\n[ring.upgrade]\nstate = \"RollingForwardCompleted\"\ntarget_version = {q(runtime)}\ncompleted_domains = [\"UD0\", \"UD1\", \"UD2\"]\nstart_time = 2026-11-01T01:00:00Z\n")
        for i, n in enumerate(nodes):
            L.append(f"[[ring.node]]\nname = {q(n)}\nstatus = \"Up\"\nhealth = \"Ok\"\nversion = {q(runtime)}\nupgrade_domain = {q(f'UD{i % 3}')}\nfault_domain = {q(f'fd:/{n}')}\nis_seed = {str(i < 3).lower()}\n")
        apps = sorted({app for app, _ in services_per_ring[rn]})
        for app in apps:
            L.append(f"[[ring.application]]\nname = {q('fabric:/' + app)}\ntype_name = {q(app + 'Type')}\nversion = \"1.2408.1.50\"\nhealth = \"Ok\"\n")
        for si, (app, svc) in enumerate(services_per_ring[rn]):
            full = f"fabric:/{app}/{svc}"
            L.append(f"[[ring.service]]\nname = {q(full)}\napplication = {q('fabric:/' + app)}\nhealth = \"Ok\"\nstatus = \"Active\"\nstateful = true\nmanifest_name = {q(svc + 'Pkg')}\nimage_name = {q('azurestack/' + svc.lower())}\nimage_tag = \"1.2408.1.50\"\n")
            parts = max(1, per_service // len(nodes)) if per_service > len(nodes) else 1
            per_part = min(len(nodes), per_service) if parts == 1 else len(nodes)
            for p in range(parts):
                L.append(f"[[ring.service.partition]]\nid = {q(gid(rn, full, p))}\nhealth = \"Ok\"\n")
                for r in range(per_part):
                    node = nodes[(si + p + r) % len(nodes)]
                    L.append(f"[[ring.service.partition.replica]]\nid = {q(str(132_000_000_000_000_000 + uuid.uuid5(NS, f'{rn}/{full}/{p}/{r}').int % 10**15))}\nnode = {q(node)}\nrole = {q('Primary' if r == 0 else 'ActiveSecondary')}\nstatus = \"Ready\"\nhealth = \"Ok\"\n")

    # ECE.
    roles_xml = "\n".join(f'    <Role Name="{r}" Type="{"BareMetal" if r == "BareMetal" else "VirtualMachine"}">' + "".join(f'<Node Name="{v}" />' for v, rr, _ in vms if rr == r) + "</Role>"
                          for r in ["BareMetal"] + sorted({r for _, r, _ in vms}))
    cloud = f'<CloudDefinition Name="AzureStack" Version="1.2408.1.50" DeploymentId="5c2a1f9e-3b7d-4e8a-9f10-2d6c8b4a7e31">\n  <Roles>\n{roles_xml}\n  </Roles>\n  <Nodes>' + "".join(f'<PhysicalNode Name="{h}" />' for h in hosts) + "</Nodes>\n</CloudDefinition>"
    L.append("[ece]")
    L.append("cloud_definition = " + block(cloud))
    L.append("backup_cloud_definition = " + block(cloud) + "\n")
    for r in ["BareMetal"] + sorted({r for _, r, _ in vms}):
        kind = "BareMetal" if r == "BareMetal" else "VirtualMachine"
        definition = f'<Role Name="{r}" Type="{kind}" />'
        L.append(f"[[ece.role]]\nname = {q(r)}\nkind = {q(kind)}\ndefinition = {q(definition)}\nowning_team = {q(OWNING_TEAMS.get(r, 'Infrastructure Services'))}\n")
    L.append(f"[[ece.action_plan]]\nid = {q(gid('plan', 'update'))}\nname = \"Update\"\nstatus = \"Completed\"\nstart = 2026-11-01T01:00:00Z\nend = 2026-11-01T09:42:00Z\n")
    for i, (step, role) in enumerate([("Prepare update package", "Cloud"), ("Update SeedRing services", "SeedRingServices"),
                                       ("Update infrastructure VMs", "FabricRing"), ("Update hosts", "BareMetal"), ("Validate stamp health", "Cloud")], 1):
        L.append(f"[[ece.action_plan.step]]\nindex = {q(str(i))}\nname = {q(step)}\nrole = {q(role)}\nstatus = \"Success\"\nstart = 2026-11-01T0{i}:00:00Z\nend = 2026-11-01T0{i}:50:00Z\n")

    # Tenant compute and network.
    L.append("[compute]")
    for i in range(a.tenant_vms):
        h = hosts[i % len(hosts)]
        L.append(f"[[compute.vm]]\nname = {q(f'tenant-vm{i + 1:03d}')}\nsubscription = {q(sub)}\nresource_group = {q(f'rg-app{i % 5}')}\nhost = {q(h)}\npreferred_host = {q(h)}\nstate = \"Running\"\nsize = \"Standard_D2_v2\"\nos_type = {q('Windows' if i % 2 else 'Linux')}\nprovisioning_state = \"Succeeded\"\n")
        disk_path = f"C:\\ClusterStorage\\ObjStore_{1 + i % 2}\\Disks\\tenant-vm{i + 1:03d}-osdisk.vhd"
        L.append(f"[[storage.managed_disk]]\nname = {q(f'tenant-vm{i + 1:03d}-osdisk')}\nsubscription = {q(sub)}\nresource_group = {q(f'rg-app{i % 5}')}\nattached_to = {q(f'tenant-vm{i + 1:03d}')}\nblob_uri = {q(f'https://md-{i:03d}.blob.local.azurestack.external/disks/tenant-vm{i + 1:03d}-osdisk.vhd')}\nfile_path = {q(disk_path)}\nsize_gb = 127.0\n")
    L.append(f"[[compute.vmss]]\nname = \"web-ss\"\nsubscription = {q(sub)}\nresource_group = \"rg-web\"\ncapacity = 3\nsize = \"Standard_D1_v2\"\nprovisioning_state = \"Succeeded\"\n")
    L.append("[network]")
    for i, (name, peer) in enumerate([("contoso-hq", "203.0.113.10"), ("contoso-branch", "198.51.100.22")]):
        L.append(f"[[network.s2s]]\nname = {q(name)}\nsubscription = {q(sub)}\ngateway = {q(f'AZS-GWY0{1 + i}')}\nremote_address = {q(peer)}\nstatus = \"Connected\"\ningress_bytes = {8_812_345 * (i + 1)}\negress_bytes = {5_123_456 * (i + 1)}\n")
    for kind, name, doc in [("virtualNetworks", "vnet-app", {"addressSpace": {"addressPrefixes": ["10.10.0.0/16"]}, "subnets": [{"name": "default", "addressPrefix": "10.10.1.0/24"}], "provisioningState": "Succeeded"}),
                            ("loadBalancers", "lb-web", {"frontendIPConfigurations": [{"name": "fe", "privateIPAddress": "10.10.1.4"}], "provisioningState": "Succeeded"}),
                            ("networkInterfaces", "tenant-vm001-nic", {"ipConfigurations": [{"name": "ipconfig1", "privateIPAddress": "10.10.1.5"}], "provisioningState": "Succeeded"})]:
        L.append(f"[[network.nrp]]\nkind = {q(kind)}\nname = {q(name)}\ndocument = {q(json.dumps({'name': name, 'type': 'Microsoft.Network/' + kind, 'properties': doc}))}\n")
    for kind, name, doc in [("servers", hosts[0], {"connections": [{"managementAddresses": [hosts[0]]}], "configurationState": {"status": "Success"}}),
                            ("logicalNetworks", "PublicVIP", {"subnets": [{"addressPrefix": "192.168.102.0/24"}], "provisioningState": "Succeeded"}),
                            ("loadBalancerMuxes", "AZS-SLB01", {"configurationState": {"status": "Success"}, "provisioningState": "Succeeded"})]:
        L.append(f"[[network.sdn]]\nkind = {q(kind)}\nname = {q(name)}\ndocument = {q(json.dumps({'resourceId': name, 'properties': doc}))}\n")
    print("\n".join(L))


if __name__ == "__main__":
    main()
