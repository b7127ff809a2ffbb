from whatsapp_crm.gateway.sim.devserver import main

raise SystemExit(main())
