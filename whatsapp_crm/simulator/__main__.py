from whatsapp_crm.simulator.devserver import main

raise SystemExit(main())
